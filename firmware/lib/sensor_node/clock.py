"""
`sensor_node.clock`
================================================================================
Wall-clock time for readings, from NTP (``adafruit_ntp``) against ``NTP_SERVER``.

A sync records the offset between Unix time and the node's uptime, so a reading's wall
time is ``offset + up_ms``. The clock is valid from the first sync until the last good
sync is 6 hours old (at a crystal's 50 ppm that is still within 1.1 s); readings taken
while it is not valid carry ``t: null`` and the host places them from ``up_ms`` and
``sent_up_ms`` instead.
"""

from sensor_node.timing import Deadline, Uptime
from sensor_protocol.wire import EPOCH_MS_MAX, EPOCH_MS_MIN

try:
    from micropython import const
except ImportError:  # CPython, under test
    const = int  # type: ignore[assignment]

try:
    from typing import Any, Callable, Optional
except ImportError:
    pass

_HOLDOVER_MS = const(6 * 3600 * 1000)
_RETRY_MS = const(60 * 1000)
"""Wait after a failed sync."""


class WallClock:
    """``make_ntp(pool)`` returns an ``adafruit_ntp.NTP`` for a socket pool; a new pool
    (after a radio restart) gets a new one."""

    def __init__(
        self,
        uptime: "Uptime",
        make_ntp: "Callable[[Any], Any]",
        server: str,
        resync_ms: int,
        console: "Any",
    ) -> None:
        self._uptime = uptime
        self._make_ntp = make_ntp
        self._server = server
        self._resync_ms = resync_ms
        self._console = console
        self._due = Deadline(uptime)
        self._ntp: Any = None
        self._pool: Any = None
        self._offset_ms = 0
        self._synced_ms: Optional[int] = None

    def valid(self) -> bool:
        """True while the last sync is recent enough to stamp readings."""
        synced = self._synced_ms
        return synced is not None and self._uptime.ms() - synced < _HOLDOVER_MS

    def epoch_ms(self, up_ms: int) -> "Optional[int]":
        """Unix time in ms of uptime ``up_ms``, or None when the clock is not valid."""
        if not self.valid():
            return None
        return self._offset_ms + up_ms

    def due(self) -> bool:
        """True when a sync should be tried."""
        return self._due.expired()

    def sync(self, pool: "Any") -> bool:
        """Ask the NTP server (blocks up to two socket timeouts, plus a DNS lookup)."""
        if pool is not self._pool:
            self._ntp = self._make_ntp(pool)
            self._pool = pool
        # The library serves its own cached estimate until the server's poll interval
        # (up to 36 h) runs out; a resync must really ask.
        self._ntp.next_sync = 0
        try:
            utc_ns = self._ntp.utc_ns
        except (OSError, ArithmeticError, RuntimeError) as exc:
            self._due.start(_RETRY_MS)
            self._console.warn("ntp_failed", "server", self._server, "reason", repr(exc))
            return False
        now = self._uptime.ms()
        epoch = utc_ns // 1000000
        if epoch < EPOCH_MS_MIN or epoch > EPOCH_MS_MAX:
            self._due.start(_RETRY_MS)
            self._console.warn("ntp_failed", "server", self._server, "reason", "time %d" % epoch)
            return False
        offset = epoch - now
        step = None if self._synced_ms is None else offset - self._offset_ms
        self._offset_ms = offset
        self._synced_ms = now
        self._due.start(self._resync_ms)
        self._console.info("ntp_synced", "server", self._server, "epoch_ms", epoch, "step_ms", step)
        return True
