"""``python -m sensor_bridge.virtual``: boot a CIRCUITPY tree on the virtual board."""

from sensor_bridge.virtual.runner import main

raise SystemExit(main())
