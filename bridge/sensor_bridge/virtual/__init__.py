"""The virtual board: emulated CircuitPython hardware that boots a real CIRCUITPY tree.

One process is one board (``sensor-bridge virtual-board`` starts one for a user; the
process is ``python -m sensor_bridge.virtual --drive DIR``). It installs fake
``board``/``busio``/``digitalio``/``analogio``/``microcontroller``/``supervisor``/``wifi``/
``socketpool``/``rtc``/``watchdog``/``neopixel_write`` modules and a ``time`` that follows a
virtual clock, then runs ``DIR/code.py`` as ``__main__``, as CircuitPython would.

Behind the fakes: a register-level MAX31856 on an SPI bus, an ADC fed by a furnace model,
real sockets with injectable network faults, an in-process NTP server, a watchdog that
fails or resets the run. Tests drive it through ``launcher.VirtualBoardProcess`` and
``control.VirtualBoardControl``.

This package imports nothing heavy at package level: ``__main__`` must be able to install
the fake modules before anything of the drive is imported.
"""
