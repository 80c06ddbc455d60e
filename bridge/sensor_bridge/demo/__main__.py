"""``python -m sensor_bridge.demo``."""

import sys

from sensor_bridge.demo.cli import main

sys.exit(main())
