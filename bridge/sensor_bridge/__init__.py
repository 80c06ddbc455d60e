"""sensor_bridge: the host side of sensor-pipeline (renders, checks and runs the Pi's services)."""

from sensor_bridge.__about__ import __version__

__all__ = ["__version__"]
