"""``time`` as CircuitPython has it (shared-bindings/time/__init__.c): ``monotonic`` (a
float of milliseconds since boot over 1000, so it loses precision as a board's does),
``monotonic_ns``, ``sleep``, and ``time``/``localtime``/``mktime`` on the board's RTC in UTC,
which reads 2000-01-01 at boot until ``rtc.RTC().datetime`` is set. Nothing else: the VM's
own ``ticks_ms`` and ``sleep_ms`` are MicroPython's, not CircuitPython's.

The VM's built-in ``time`` lacks ``monotonic``; it is extensible (py/builtinimport.c), so
this file, found first on sys.path, stands in for it.
"""

from collections import namedtuple

import _vboard

sleep = _vboard.builtin_time.sleep
RTC_BOOT = 946684800
"""2000-01-01T00:00:00Z: what the RTC reads after a reset until it is set."""
_rtc_at_boot = RTC_BOOT

_StructTime = namedtuple(
    "struct_time",
    ("tm_year", "tm_mon", "tm_mday", "tm_hour", "tm_min", "tm_sec", "tm_wday", "tm_yday",
     "tm_isdst"),
)  # fmt: skip


def struct_time(time_tuple):
    """``time.struct_time((year, month, ...))``: one 9-item sequence, as on a board."""
    return _StructTime(*time_tuple)


def monotonic():
    seconds, ms = _vboard.uptime()
    return seconds + ms / 1000


def monotonic_ns():
    seconds, ms = _vboard.uptime()
    return seconds * 1000000000 + ms * 1000000


def time():
    return _rtc_at_boot + _vboard.uptime()[0]


def localtime(secs=None):
    """UTC; nothing before 2000-01-01 (the earliest time it converts)."""
    value = time() if secs is None else int(secs)
    if value < RTC_BOOT:
        raise OverflowError("timestamp out of range for platform time_t")
    return _StructTime(*(tuple(_vboard.builtin_time.gmtime(value))[:8] + (-1,)))


def mktime(t):
    """The inverse of ``localtime`` (the host runs the VM with TZ=UTC)."""
    return _vboard.builtin_time.mktime(tuple(t)[:8])


def set_rtc(epoch_s):
    """``rtc.RTC().datetime = ...``: the RTC reads ``epoch_s`` from now on."""
    global _rtc_at_boot
    _rtc_at_boot = int(epoch_s) - _vboard.uptime()[0]
