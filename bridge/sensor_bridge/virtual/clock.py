"""The virtual clock: real time scaled by a settable speed.

``physical`` time runs from the first power-on of the rig and goes on across resets (the
furnace, the network and the wall clock live on it); ``uptime`` restarts at each MCU boot
(``time.monotonic``, ``supervisor.ticks_ms``). Every real wait is a virtual duration
divided by the speed, re-planned when the speed changes mid-wait, so the firmware's view
of time stays consistent at any speed.
"""

import struct
import threading
import time as _real_time
from collections.abc import Callable

TICKS_PERIOD = 1 << 29
TICKS_MAX = TICKS_PERIOD - 1
TICKS_START = TICKS_PERIOD - 65_000
"""CircuitPython starts ``ticks_ms`` 65 s before its first wrap, so wrap bugs show early."""

WAIT_SLICE_S = 0.05
"""Longest real wait in one piece: speed changes and state changes take effect this fast."""


class VirtualClock:
    """virtual = anchor_virtual + (real_monotonic - anchor_real) * speed."""

    def __init__(
        self,
        *,
        speed: float = 1.0,
        physical_s: float = 0.0,
        boot_physical_s: float | None = None,
        real_monotonic: Callable[[], float] = _real_time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._real = real_monotonic
        self._lock = threading.Condition()
        self._speed = float(speed)
        self._anchor_real = real_monotonic()
        self._anchor_virtual = float(physical_s)
        self._boot = float(physical_s if boot_physical_s is None else boot_physical_s)

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Change the rate without a jump in virtual time; wakes every waiter to re-plan."""
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        with self._lock:
            now_real = self._real()
            self._anchor_virtual += (now_real - self._anchor_real) * self._speed
            self._anchor_real = now_real
            self._speed = float(speed)
            self._lock.notify_all()

    def physical(self) -> float:
        """Virtual seconds since the rig was powered on."""
        with self._lock:
            return self._anchor_virtual + (self._real() - self._anchor_real) * self._speed

    @property
    def boot_physical(self) -> float:
        """Physical time at which this MCU boot started."""
        return self._boot

    def uptime(self) -> float:
        """Virtual seconds since this MCU boot."""
        return self.physical() - self._boot

    def ticks_ms(self) -> int:
        """``supervisor.ticks_ms``: uptime in ms, offset and wrapped like CircuitPython."""
        return (int(self.uptime() * 1000) + TICKS_START) & TICKS_MAX

    def real_seconds(self, virtual_s: float) -> float:
        """How long a virtual duration takes in real time at the current speed."""
        return max(0.0, virtual_s) / self._speed

    def sleep(self, virtual_s: float) -> None:
        self.sleep_until(self.physical() + virtual_s)

    def sleep_until(self, physical_s: float) -> None:
        """Block until physical time reaches ``physical_s``, in slices."""
        while True:
            remaining = physical_s - self.physical()
            if remaining <= 0:
                return
            with self._lock:
                self._lock.wait(min(WAIT_SLICE_S, remaining / self._speed))

    def wait_slice(self, deadline_physical: float | None) -> float:
        """Real seconds to wait in one slice before re-checking, bounded by a deadline."""
        if deadline_physical is None:
            return WAIT_SLICE_S
        remaining = deadline_physical - self.physical()
        return max(0.0, min(WAIT_SLICE_S, remaining / self._speed))


def float30(value: float) -> float:
    """The value as CircuitPython stores a float: an IEEE single with 2 mantissa bits cut.

    ``time.monotonic()`` returns such a float on the device, which is why it loses
    millisecond resolution after about 1.2 hours; firmware that leans on it shows that here.
    """
    (bits,) = struct.unpack("<I", struct.pack("<f", value))
    (result,) = struct.unpack("<f", struct.pack("<I", bits & ~0b11))
    return float(result)
