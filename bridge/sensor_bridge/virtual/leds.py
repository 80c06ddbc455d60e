"""What the status light shows: a NeoPixel fed by ``neopixel_write``, or a plain LED.

A NeoPixel on a board with ``NEOPIXEL_POWER`` is dark until that pin is driven high, and
forgets its colour when power drops, as a WS2812 does.
"""

import threading
import types
from typing import Any

from sensor_bridge.virtual.digital import Direction
from sensor_bridge.virtual.pins import Pin
from sensor_bridge.virtual.wiring import Wiring


class StatusLight:
    def __init__(
        self, wiring: Wiring, *, neopixel: Pin | None, power: Pin | None, led: Pin | None
    ) -> None:
        self._lock = threading.Lock()
        self._neopixel = neopixel
        self._powered = power is None
        self._pixel: tuple[int, int, int] | None = None
        self._led: bool | None = None
        self.writes = 0
        if power is not None:
            wiring.on_output(power, self._power)
        if led is not None:
            wiring.on_output(led, self._led_level)

    def _power(self, level: bool) -> None:
        with self._lock:
            if level and not self._powered:
                self._pixel = (0, 0, 0) if self._pixel is not None else None
            self._powered = level

    def _led_level(self, level: bool) -> None:
        with self._lock:
            self._led = level

    def neopixel_write(self, pin: Pin, buf: bytes) -> None:
        """Record the first pixel's colour (GRB or GRBW bytes on the wire)."""
        if pin is not self._neopixel or len(buf) < 3:
            return
        with self._lock:
            self.writes += 1
            if self._powered:
                self._pixel = (buf[1], buf[0], buf[2])

    def rgb(self) -> list[int] | None:
        """The colour seen now: [r, g, b], or None when nothing was ever shown."""
        with self._lock:
            if self._pixel is not None:
                return list(self._pixel) if self._powered else [0, 0, 0]
            if self._led is not None:
                return [255, 255, 255] if self._led else [0, 0, 0]
            return None


def build_neopixel_write(light: StatusLight) -> types.ModuleType:
    module = types.ModuleType("neopixel_write", "Low-level NeoPixel output (virtual board).")

    def neopixel_write(digitalinout: Any, buf: bytes) -> None:
        """Send ``buf`` out of the pin of an output DigitalInOut."""
        if getattr(digitalinout, "direction", None) is not Direction.OUTPUT:
            raise ValueError("Pin must be an output")
        light.neopixel_write(digitalinout.pin, bytes(buf))

    module.__dict__["neopixel_write"] = neopixel_write
    return module
