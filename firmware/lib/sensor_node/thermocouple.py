"""
`sensor_node.thermocouple`
================================================================================
The MAX31856 read without blocking, and its faults.

A read that waits for its conversion can hang (``adafruit_max31856``'s ``temperature`` polls
with no timeout, kiln-controller #169), so a reading is split into ``start()`` (one-shot) and
``poll()`` (until done or past a deadline from the datasheet's worst-case conversion time),
which then reads the result. The fault status is read with every conversion: its bits are
the contract's fault bits; a conversion that misses its deadline sets the ``timeout`` bit.
After a faulted conversion the faults are cleared through CR0's FAULTCLR (an
over/under-voltage fault suspends conversions until then), and after a timeout the chip is
configured again from scratch, in case it lost power.

The driver is made by ``make_driver()`` (``sensor_node.max31856.Max31856``, configured for
the settings' type, averaging and mains frequency; tests inject fakes).

``FaultDebouncer`` raises or clears a published fault flag only after ``count``
consecutive readings agree. The temperature is withheld on any invalidating fault,
debounced or not.
"""

from sensor_protocol.wire import (
    COLD_JUNCTION_C_MAX,
    COLD_JUNCTION_C_MIN,
    FAULT_BITS,
    FAULTS_INVALIDATING_TEMPERATURE,
    TEMP_C_MAX,
    TEMP_C_MIN,
)

try:
    from micropython import const
except ImportError:  # CPython, under test
    const = int  # type: ignore[assignment]

try:
    from typing import Any, Callable, Optional, Tuple

    from sensor_node.timing import Uptime
except ImportError:
    pass

TIMEOUT_BIT = const(0x100)
"""The contract's fault bit for a conversion that missed its deadline."""


def conversion_ms(averaging: int, mains_hz: int) -> int:
    """Worst-case one-shot conversion time from the datasheet: 155 ms (60 Hz) or 185 ms
    (50 Hz) plus 33.3 ms or 40 ms per extra averaged sample."""
    if mains_hz == 50:
        return 185 + (averaging - 1) * 40
    return 155 + (averaging - 1) * 100 // 3


def _in_range(value: float, lo: float, hi: float) -> "Optional[float]":
    return value if lo <= value <= hi else None


class Thermocouple:
    """A MAX31856 made by ``make_driver()`` (a new driver configures the chip from scratch);
    ``averaging`` and ``mains_hz`` are what it was configured with, for the deadline.

    ``poll()`` returns None while a conversion runs, then ``(temp_c, cj_c, faults,
    read_ms)``: temperatures in degrees C (``temp_c`` None when a fault invalidates it or
    it is outside the contract's range), the raw fault bits of this conversion and the time
    from start to result.
    """

    def __init__(
        self, make_driver: "Callable[[], Any]", averaging: int, mains_hz: int, uptime: "Uptime"
    ) -> None:
        self._make_driver = make_driver
        self._uptime = uptime
        self.deadline_ms = conversion_ms(averaging, mains_hz) * 3 // 2 + 100
        """How long a conversion may take before it counts as a ``timeout`` fault."""
        self.converting = False
        self._started_ms = 0
        self._driver = make_driver()

    def start(self) -> None:
        """Start a one-shot conversion."""
        self._driver.start()
        self._started_ms = self._uptime.ms()
        self.converting = True

    def poll(self) -> "Optional[Tuple[Optional[float], Optional[float], int, int]]":
        """None while converting, else the result (see the class docstring)."""
        if not self.converting:
            return None
        driver = self._driver
        # Checked before the deadline, so a loop iteration that ran long (a slow broker)
        # does not turn a finished conversion into a timeout.
        pending = driver.converting
        read_ms = self._uptime.ms() - self._started_ms
        if pending and read_ms < self.deadline_ms:
            return None
        self.converting = False
        temp_c, cj_c, faults = driver.read()
        if pending:
            # What the registers hold is an older conversion's.
            faults |= TIMEOUT_BIT
            temp_c = None
            cj_c = None
        else:
            temp_c = _in_range(temp_c, TEMP_C_MIN, TEMP_C_MAX)
            cj_c = _in_range(cj_c, COLD_JUNCTION_C_MIN, COLD_JUNCTION_C_MAX)
        if faults & FAULTS_INVALIDATING_TEMPERATURE:
            temp_c = None
        if faults:
            driver.clear_faults()
        if pending:
            self._driver = self._make_driver()
        return temp_c, cj_c, faults, read_ms


class FaultDebouncer:
    """Published fault flags: a bit is raised after ``count`` consecutive conversions with
    it, and cleared after ``count`` consecutive conversions without it."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._streaks = [0] * len(FAULT_BITS)
        self.flags = 0
        """The debounced fault bits."""

    def update(self, raw: int) -> int:
        """Feed one conversion's raw bits; returns the bits whose flag changed."""
        changed = 0
        for index in range(len(FAULT_BITS)):
            bit = FAULT_BITS[index][1]
            if bool(raw & bit) == bool(self.flags & bit):
                self._streaks[index] = 0
                continue
            self._streaks[index] += 1
            if self._streaks[index] >= self._count:
                self._streaks[index] = 0
                self.flags ^= bit
                changed |= bit
        return changed
