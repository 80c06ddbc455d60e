"""``python -m sensor_bridge.virtual``: one board process. Not a user's command (that is
``sensor-bridge virtual-board``): the way ``sensor-bridge virtual-board``, the launcher and a
reset (``handoff.reexec``) start a board in a fresh interpreter."""

from sensor_bridge.virtual.runner import main

raise SystemExit(main())
