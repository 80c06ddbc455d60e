"""
`sensor_node.thermocouple`
================================================================================
The MAX31856 read without blocking, and its faults.

The driver's ``temperature`` property polls with no timeout (kiln-controller #169), so a
reading is split into ``start()`` (one-shot), ``poll()`` (until done or past a deadline
from the datasheet's worst-case conversion time) and the unpack. The fault status is read
with every conversion and becomes the contract's fault bits; a conversion that misses its
deadline sets the ``timeout`` bit. After a faulted conversion the faults are cleared
through CR0's FAULTCLR (an over/under-voltage fault suspends conversions until then), and
after a timeout the chip is configured again from scratch, in case it lost power.

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

_CR0 = const(0x00)
_CR0_ONE_SHOT = const(0x40)
_CR0_FAULT_CLEAR = const(0x02)


def conversion_ms(averaging: int, mains_hz: int) -> int:
    """Worst-case one-shot conversion time from the datasheet: 155 ms (60 Hz) or 185 ms
    (50 Hz) plus 33.3 ms or 40 ms per extra averaged sample."""
    if mains_hz == 50:
        return 185 + (averaging - 1) * 40
    return 155 + (averaging - 1) * 100 // 3


def fault_bits(fault: "Any") -> int:
    """The contract's fault bits from the driver's ``fault`` dict."""
    bits = 0
    for name, bit in FAULT_BITS:
        if fault.get(name):
            bits |= bit
    return bits


def _in_range(value: "Optional[float]", lo: float, hi: float) -> "Optional[float]":
    if value is None or value != value or value < lo or value > hi:
        return None
    return value


class Thermocouple:
    """A MAX31856 made by ``make_driver()`` (a new driver configures the chip from scratch).

    ``poll()`` returns None while a conversion runs, then ``(temp_c, cj_c, faults,
    read_ms)``: temperatures in degrees C (``temp_c`` None when a fault invalidates it or
    it is outside the contract's range), the raw fault bits of this conversion and the time
    from start to result.
    """

    def __init__(
        self, make_driver: "Callable[[], Any]", averaging: int, mains_hz: int, uptime: "Uptime"
    ) -> None:
        self._make_driver = make_driver
        self._averaging = averaging
        self._mains_hz = mains_hz
        self._uptime = uptime
        self.deadline_ms = conversion_ms(averaging, mains_hz) * 3 // 2 + 100
        """How long a conversion may take before it counts as a ``timeout`` fault."""
        self.converting = False
        self._started_ms = 0
        self._driver = self._configure()

    def _configure(self) -> "Any":
        driver = self._make_driver()
        driver.averaging = self._averaging
        driver.noise_rejection = self._mains_hz
        return driver

    def start(self) -> None:
        """Start a one-shot conversion."""
        self._driver.initiate_one_shot_measurement()
        self._started_ms = self._uptime.ms()
        self.converting = True

    def poll(self) -> "Optional[Tuple[Optional[float], Optional[float], int, int]]":
        """None while converting, else the result (see the class docstring)."""
        if not self.converting:
            return None
        driver = self._driver
        # Checked before the deadline, so a loop iteration that ran long (a slow broker)
        # does not turn a finished conversion into a timeout.
        pending = driver.oneshot_pending
        read_ms = self._uptime.ms() - self._started_ms
        if pending and read_ms < self.deadline_ms:
            return None
        self.converting = False
        faults = fault_bits(driver.fault)
        temp_c = None
        cj_c = None
        if pending:
            faults |= TIMEOUT_BIT
        else:
            temp_c = _in_range(driver.unpack_temperature(), TEMP_C_MIN, TEMP_C_MAX)
            cj_c = _in_range(
                driver.unpack_reference_temperature(), COLD_JUNCTION_C_MIN, COLD_JUNCTION_C_MAX
            )
        if faults & FAULTS_INVALIDATING_TEMPERATURE:
            temp_c = None
        if faults:
            self._clear_faults()
        if pending:
            self._driver = self._configure()
        return temp_c, cj_c, faults, read_ms

    def _clear_faults(self) -> None:
        # The driver defines FAULTCLR but has no call for it; its register helpers are the
        # only way in short of a second SPIDevice on the same chip select.
        driver = self._driver
        cr0 = driver._read_register(_CR0, 1)[0]
        driver._write_u8(_CR0, (cr0 & ~_CR0_ONE_SHOT) | _CR0_FAULT_CLEAR)


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
