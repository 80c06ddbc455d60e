"""``neopixel_write`` (shared-bindings/neopixel_write/__init__.c): the bytes go out of an
output pin; the host's status light records the first pixel's colour."""

from digitalio import Direction

from _vboard import send


def neopixel_write(digitalinout, buf):
    if digitalinout.direction is not Direction.OUTPUT:
        raise ValueError("Pin must be an output")
    send("neopixel", digitalinout.pin.name, list(bytes(buf[:4])))
