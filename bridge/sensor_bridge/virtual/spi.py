"""``busio.SPI``: lock discipline, pin claims and byte exchange with the wired devices.

Each byte clocked goes to every device whose chip select is active; MISO idles high when
no device drives it. The bus tells a device when its mode or clock rate is out of the
device's spec so the device can return garbage, as the real part would.
"""

import types
from collections.abc import Sequence
from typing import Any, ClassVar

from sensor_bridge.virtual.digital import DEINITIALIZED
from sensor_bridge.virtual.pins import Pin, PinClaims
from sensor_bridge.virtual.wiring import Wiring

MISO_IDLE = 0xFF
MAX_DEVICE_HZ = 5_000_000
"""The MAX31856's SCLK limit."""


class SPI:
    _wiring: ClassVar[Wiring]
    _claims: ClassVar[PinClaims]

    def __init__(
        self,
        clock: Pin,
        MOSI: Pin | None = None,
        MISO: Pin | None = None,
        half_duplex: bool = False,
    ) -> None:
        if half_duplex:
            raise NotImplementedError("Half duplex SPI is not implemented")
        wanted = [pin for pin in (clock, MOSI, MISO) if pin is not None]
        claimed: list[Pin] = []
        try:
            for pin in wanted:
                claimed.append(self._claims.claim(pin))
        except ValueError:
            for pin in claimed:
                self._claims.release(pin)
            raise
        self._pins: list[Pin] | None = claimed
        self._clock = clock
        self._mosi = MOSI
        self._miso = MISO
        self._locked = False
        self._baudrate = 250_000
        self._polarity = 0
        self._phase = 0

    def _check(self) -> None:
        if self._pins is None:
            raise ValueError(DEINITIALIZED)

    def _check_lock(self) -> None:
        self._check()
        if not self._locked:
            raise RuntimeError("Function requires lock")

    def deinit(self) -> None:
        if self._pins is None:
            return
        for pin in self._pins:
            self._claims.release(pin)
        self._pins = None

    def __enter__(self) -> "SPI":
        return self

    def __exit__(self, *exc: object) -> None:
        self.deinit()

    def try_lock(self) -> bool:
        self._check()
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self) -> None:
        self._check()
        self._locked = False

    def configure(
        self, *, baudrate: int = 100_000, polarity: int = 0, phase: int = 0, bits: int = 8
    ) -> None:
        self._check_lock()
        if polarity not in (0, 1) or phase not in (0, 1):
            raise ValueError("polarity and phase must be 0 or 1")
        if bits != 8:
            raise ValueError("bits must be 8")
        self._baudrate = int(baudrate)
        self._polarity = polarity
        self._phase = phase

    @property
    def frequency(self) -> int:
        self._check()
        return self._baudrate

    def _exchange(self, byte: int) -> int:
        # The MAX31856 samples on the second clock edge (SPI modes 1 and 3).
        mode_ok = self._phase == 1 and self._baudrate <= MAX_DEVICE_HZ
        result = MISO_IDLE
        for device in self._wiring.spi_devices.get(self._clock, ()):
            if device.selected:
                # Several drivers on MISO at once: the low bits win, as on open wires.
                result &= device.transfer(byte & 0xFF, mode_ok=mode_ok)
        return result

    def write(self, buffer: Sequence[int], *, start: int = 0, end: int | None = None) -> None:
        self._check_lock()
        if self._mosi is None:
            raise ValueError("No mosi pin")
        for byte in bytes(buffer[start:end]):
            self._exchange(byte)

    def readinto(
        self, buffer: Any, *, start: int = 0, end: int | None = None, write_value: int = 0
    ) -> None:
        self._check_lock()
        if self._miso is None:
            raise ValueError("No miso pin")
        stop = len(buffer) if end is None else end
        for index in range(start, stop):
            buffer[index] = self._exchange(write_value)

    def write_readinto(
        self,
        out_buffer: Sequence[int],
        in_buffer: Any,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        self._check_lock()
        if self._mosi is None or self._miso is None:
            raise ValueError("No mosi pin" if self._mosi is None else "No miso pin")
        out = bytes(out_buffer[out_start:out_end])
        stop = len(in_buffer) if in_end is None else in_end
        if len(out) != stop - in_start:
            raise ValueError("buffer slices must be of equal length")
        for offset, byte in enumerate(out):
            in_buffer[in_start + offset] = self._exchange(byte)


def build_busio(wiring: Wiring, claims: PinClaims) -> types.ModuleType:
    module = types.ModuleType("busio", "Hardware accelerated external bus access (virtual board).")
    bound: dict[str, Any] = {"_wiring": wiring, "_claims": claims, "__module__": "busio"}
    module.__dict__["SPI"] = type("SPI", (SPI,), bound)
    return module
