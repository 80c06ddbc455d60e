"""The replacement ``time`` module and the RTC behind ``time.time()``.

A copy of the real module whose clocks follow the virtual clock, with CircuitPython's
semantics: ``time()`` is an int read from the RTC (which starts at 2000-01-01 on every
boot until the firmware sets it), ``localtime``/``mktime`` are UTC, ``monotonic`` is a
float with CircuitPython's reduced precision.
"""

import calendar
import threading
import time as _real_time
import types

from sensor_bridge.virtual.clock import VirtualClock, float30

RTC_BOOT_EPOCH = 946_684_800
"""2000-01-01T00:00:00Z: what a CircuitPython RTC reads after reset until it is set."""


class RealTimeClock:
    """The MCU's RTC: a wall time that runs on the virtual clock from where it was set."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._base_epoch = float(RTC_BOOT_EPOCH)
        self._base_uptime = 0.0

    def now(self) -> float:
        with self._lock:
            return self._base_epoch + (self._clock.uptime() - self._base_uptime)

    def set(self, epoch_s: float) -> None:
        with self._lock:
            self._base_epoch = float(epoch_s)
            self._base_uptime = self._clock.uptime()


def localtime(secs: float | None, rtc: RealTimeClock) -> _real_time.struct_time:
    """CircuitPython ``time.localtime``: UTC, and nothing before 2000 (OverflowError)."""
    value = int(rtc.now() if secs is None else secs)
    if value < RTC_BOOT_EPOCH:
        raise OverflowError("timestamp out of range for platform time_t")
    return _real_time.gmtime(value)


def mktime(t: tuple[int, ...] | _real_time.struct_time) -> int:
    """CircuitPython ``time.mktime``: the inverse of its UTC ``localtime``."""
    if len(t) not in (8, 9):
        raise TypeError("function takes exactly 9 arguments")
    return calendar.timegm(tuple(t))


def build_time_module(clock: VirtualClock, rtc: RealTimeClock) -> types.ModuleType:
    """A ``time`` module for the drive: the real one with its clocks made virtual."""
    module = types.ModuleType("time", _real_time.__doc__)
    module.__dict__.update(
        {k: v for k, v in vars(_real_time).items() if k not in ("__name__", "__doc__")}
    )

    def sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        clock.sleep(seconds)

    def monotonic() -> float:
        return float30(clock.uptime())

    def monotonic_ns() -> int:
        return int(clock.uptime() * 1_000_000_000)

    def time() -> int:
        return int(rtc.now())

    def time_ns() -> int:
        return int(rtc.now() * 1_000_000_000)

    def _localtime(secs: float | None = None) -> _real_time.struct_time:
        return localtime(secs, rtc)

    module.__dict__.update(
        sleep=sleep,
        monotonic=monotonic,
        monotonic_ns=monotonic_ns,
        time=time,
        time_ns=time_ns,
        localtime=_localtime,
        mktime=mktime,
    )
    return module
