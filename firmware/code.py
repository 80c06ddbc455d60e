"""The furnace sensor node's entry point on CIRCUITPY.

sensor_node.app composes settings -> board module (boards/<board.board_id>.py) -> hardware
-> node, and runs it. It never returns: a crash is logged and answered with a reset.
"""

from sensor_node import app

app.run()
