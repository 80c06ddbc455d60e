"""
`sensor_node.recovery`
================================================================================
The recovery ladder's decisions, apart from the radio and the board so they can be tested
with a fake clock:

1. reconnect with backoff (``backoff``), always;
2. restart the radio and recreate the socket pool after ``radio_restart_after_ms`` with
   no answer at all from the network, and again every ``radio_restart_after_ms``;
3. reset the board after ``reset_after_ms`` without a broker session, if the network has
   also been silent for ``radio_restart_after_ms`` and the reading buffer is full.

Silence is what the node's own attempts found, not time passed: it runs from the last
answer to the last attempt that got none. Between attempts the backoff may wait as long as
``radio_restart_after_ms`` (up to 30 s against a minimum of 30 s), and a broker that
refused the last attempt has not gone silent because the next one is not due yet.

"An answer" is anything that proves the radio and IP stack work: a broker accepting or
refusing a connection, a PUBACK, an NTP reply. A broker that is down (connection refused)
or rejects the login is therefore never "fixed" by a reset, which would throw away the
readings waiting in RAM; a wedged radio (ESPHome's and MiniMQTT #242's "connected but
nothing works") is. Nor does a reset come while the buffer still has room: an access point
that is down for an hour looks like a wedged radio, and every reading taken meanwhile is
delivered when it returns; once the buffer is full, readings are lost anyway and the reset
is worth trying.
"""

try:
    from typing import Optional
except ImportError:
    pass

NOTHING = 0
RESTART_RADIO = 1
RESET = 2


class RecoveryLadder:
    """Tracks offline time and network answers on the uptime clock (ms)."""

    def __init__(self, radio_restart_after_ms: int, reset_after_ms: int, now_ms: int) -> None:
        self._radio_after = radio_restart_after_ms
        self._reset_after = reset_after_ms
        self.offline_since: Optional[int] = now_ms
        """When the broker session was lost (boot counts as lost); None while online."""
        self._last_answer = now_ms
        self._last_unanswered = now_ms
        self._last_restart = now_ms

    def online(self, now_ms: int) -> None:
        """A broker session is up."""
        self.offline_since = None
        self._last_answer = now_ms

    def offline(self, now_ms: int) -> None:
        """The broker session was lost."""
        if self.offline_since is None:
            self.offline_since = now_ms
            self._last_restart = now_ms

    def answered(self, now_ms: int) -> None:
        """The network answered something."""
        self._last_answer = now_ms

    def unanswered(self, now_ms: int) -> None:
        """An attempt (Wi-Fi join, broker connect) ended without any answer."""
        self._last_unanswered = now_ms

    def radio_restarted(self, now_ms: int) -> None:
        """The radio was restarted."""
        self._last_restart = now_ms

    def offline_ms(self, now_ms: int) -> int:
        """How long the broker session has been down, 0 while online."""
        if self.offline_since is None:
            return 0
        return now_ms - self.offline_since

    def silent_ms(self) -> int:
        """From the last answer (or the session's loss) to the last attempt that got none;
        0 while online."""
        if self.offline_since is None:
            return 0
        return max(0, self._last_unanswered - max(self._last_answer, self.offline_since))

    def action(self, now_ms: int, buffer_full: bool = True) -> int:
        """``NOTHING``, ``RESTART_RADIO`` or ``RESET`` (never while ``buffer_full`` is False)."""
        if self.offline_since is None:
            return NOTHING
        silent = self.silent_ms()
        if silent < self._radio_after:
            return NOTHING
        if buffer_full and self.offline_ms(now_ms) >= self._reset_after:
            return RESET
        if now_ms - self._last_restart >= self._radio_after:
            return RESTART_RADIO
        return NOTHING
