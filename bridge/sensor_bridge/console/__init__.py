"""``sensor-bridge console``: the board's serial console, for a person at a terminal.

* ``lines``: the board's bytes cut into lines, stamped and coloured by the firmware's level
  (pure text functions).
* ``ports``: which serial port is a CircuitPython board's console.
* ``session``: the loop between the port and the terminal (raw keys, Ctrl-] quits, the board
  coming back after a reset), with the port and the terminal handed in.
"""
