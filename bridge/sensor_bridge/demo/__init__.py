"""``sensor-bridge demo`` (``hatch run demo``): the whole system on one machine, watched live.

The example site runs on the local stack (``sensor_bridge.local``) with two virtual furnaces
running the real firmware; a scenario (``scenarios.SCENARIOS``) acts on them; the live view
shows what the broker, the boards and the alerting see; the end brings a summary (published
against stored readings, alert latencies) and a plot.
"""
