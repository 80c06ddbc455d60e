"""
`sensor_node.timing`
================================================================================
Time since boot and deadlines on it, built on ``adafruit_ticks``.

``supervisor.ticks_ms()`` wraps at 2**29 ms (about 6.2 days, the first wrap 65 s after
power-on) and ``time.monotonic()`` loses millisecond precision after about an hour, so
neither can stamp a reading on a board that runs for months. ``Uptime`` extends the ticks
counter past its wrap; every interval in the firmware is a ``Deadline`` on it.
"""

from adafruit_ticks import ticks_diff, ticks_ms

try:
    from typing import Callable
except ImportError:
    pass


class Uptime:
    """Milliseconds since this object was made, never wrapping.

    ``ms()`` must be called at least once every 2**28 ms (3.1 days), which any loop does;
    ``ticks`` is the wrapping counter (``adafruit_ticks.ticks_ms`` unless a test injects one).
    """

    def __init__(self, ticks: "Callable[[], int]" = ticks_ms) -> None:
        self._ticks = ticks
        self._last = ticks()
        self._ms = 0

    def ms(self) -> int:
        """Milliseconds since start."""
        now = self._ticks()
        step = ticks_diff(now, self._last)
        # A negative step means more than 2**28 ms went by unobserved; the lost time
        # cannot be recovered, so the clock holds rather than jumping back.
        if step > 0:
            self._ms += step
        self._last = now
        return self._ms


class Deadline:
    """A moment on an ``Uptime`` clock; a new deadline has already expired."""

    def __init__(self, uptime: "Uptime") -> None:
        self._uptime = uptime
        self._at = uptime.ms()

    def start(self, ms: int) -> None:
        """Expire ``ms`` milliseconds from now."""
        self._at = self._uptime.ms() + ms

    def advance(self, period_ms: int) -> None:
        """Move on by one period, keeping a fixed rate; a deadline more than a period behind
        restarts from now instead of firing a burst of late periods."""
        now = self._uptime.ms()
        self._at += period_ms
        if self._at <= now:
            self._at = now + period_ms

    def expired(self) -> bool:
        """True once the moment has passed."""
        return self._uptime.ms() >= self._at

    def remaining_ms(self) -> int:
        """Milliseconds left, 0 once expired."""
        left = self._at - self._uptime.ms()
        return left if left > 0 else 0
