"""
`sensor_node.clock`
================================================================================
Wall-clock time for readings, from an SNTP exchange (RFC 4330) with ``NTP_SERVER``.

A sync records the offset between Unix time and the node's uptime, so a reading's wall
time is ``offset + up_ms``. The clock is valid from the first sync until the last good
sync is 6 hours old (at a crystal's 50 ppm that is still within 1.1 s); health reports it
(``clock_valid``), and past that readings are still stamped from the last sync. Before the
first sync of the boot there is no time: readings wait, and are stamped when they are sent
(``sensor_node.node``).

The exchange is here rather than in ``adafruit_ntp``: the library kept 2.5 kB of a Pico W's
heap for one request and one reply (docs/firmware-memory.md); this keeps about 0.4 kB.
"""

import struct

from sensor_node.timing import Deadline, Uptime
from sensor_protocol.wire import EPOCH_MS_MAX, EPOCH_MS_MIN

try:
    from micropython import const
except ImportError:  # CPython, under test
    const = int  # type: ignore[assignment]

try:
    from typing import Any, Optional
except ImportError:
    pass

_HOLDOVER_MS = const(6 * 3600 * 1000)
_RETRY_MS = const(60 * 1000)
"""Wait after a failed sync."""
_PACKET_BYTES = const(48)
_NTP_TO_UNIX_S = 2208988800
"""Seconds from 1900 (NTP era 0) to 1970; above a small int, so not a const()."""


def sntp_offset_ms(pool: "Any", server: str, port: int, timeout_s: float, uptime: "Uptime") -> int:
    """Unix time in ms minus uptime in ms, from one client request to ``server``.

    The server's transmit time is taken as the middle of the round trip. Raises OSError
    when there is no answer and ValueError for an answer that is not a server's time."""
    address = pool.getaddrinfo(server, port)[0][4]
    packet = bytearray(_PACKET_BYTES)
    packet[0] = 0x23  # leap 0, version 4, mode 3 (client)
    with pool.socket(pool.AF_INET, pool.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        sent = uptime.ms()
        sock.sendto(packet, address)
        size = sock.recv_into(packet)
        received = uptime.ms()
    # Mode 4 is a server's reply; stratum 0 is a kiss-o'-death (RFC 4330 section 8).
    if size != _PACKET_BYTES or packet[0] & 7 != 4 or packet[1] == 0:
        raise ValueError("not an NTP server reply")
    seconds, fraction = struct.unpack_from("!II", packet, 40)
    if not seconds & 0x80000000:
        seconds += 0x100000000  # era 1, from 2036 (RFC 4330 section 3)
    epoch = (seconds - _NTP_TO_UNIX_S) * 1000 + ((fraction * 1000 + 0x80000000) >> 32)
    return epoch + (received - sent) // 2 - received


class WallClock:
    """Asks ``server`` on the link's socket pool, at most ``timeout_s`` for the answer."""

    def __init__(
        self,
        *,
        uptime: "Uptime",
        server: str,
        port: int,
        timeout_s: float,
        resync_ms: int,
        console: "Any",
    ) -> None:
        self._uptime = uptime
        self._server = server
        self._port = port
        self._timeout_s = timeout_s
        self._resync_ms = resync_ms
        self._console = console
        self._due = Deadline(uptime)
        self._offset_ms = 0
        self._synced_ms: Optional[int] = None

    def valid(self) -> bool:
        """True while the last sync is recent enough to stamp readings."""
        synced = self._synced_ms
        return synced is not None and self._uptime.ms() - synced < _HOLDOVER_MS

    def is_set(self) -> bool:
        """True from the first sync of this boot. Cheaper than ``epoch_ms``, whose Unix
        milliseconds are a long int on a board: a new object on the heap at every call."""
        return self._synced_ms is not None

    def epoch_ms(self, up_ms: int) -> "Optional[int]":
        """Unix time in ms of uptime ``up_ms`` by the last sync of this boot, however old (a
        stale clock still beats none: 50 ppm is 4.3 s a day); None before the first."""
        if self._synced_ms is None:
            return None
        return self._offset_ms + up_ms

    def due(self) -> bool:
        """True when a sync should be tried."""
        return self._due.expired()

    def sync(self, pool: "Any") -> bool:
        """Ask the NTP server (blocks up to one socket timeout, plus a DNS lookup)."""
        try:
            offset = sntp_offset_ms(pool, self._server, self._port, self._timeout_s, self._uptime)
        except (OSError, ValueError) as exc:
            self._due.start(_RETRY_MS)
            self._console.warn("ntp_failed", "server", self._server, "reason", repr(exc))
            return False
        now = self._uptime.ms()
        epoch = offset + now
        if epoch < EPOCH_MS_MIN or epoch > EPOCH_MS_MAX:
            self._due.start(_RETRY_MS)
            self._console.warn("ntp_failed", "server", self._server, "reason", "time %d" % epoch)
            return False
        step = None if self._synced_ms is None else offset - self._offset_ms
        self._offset_ms = offset
        self._synced_ms = now
        self._due.start(self._resync_ms)
        self._console.info("ntp_synced", "server", self._server, "epoch_ms", epoch, "step_ms", step)
        return True
