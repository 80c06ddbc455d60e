"""``python -m sensor_bridge``: the same command as ``sensor-bridge``, for a process that has
the interpreter but not the script on its PATH (the demo starting its own engine)."""

from sensor_bridge.cli import main

main(prog_name="sensor-bridge")
