"""The hardware-in-the-loop suite: a board (or the virtual board's pty) over its serial
console, and the broker it publishes to. Run it with ``hatch run hil -- --port DEV``."""
