"""
`sensor_node.backoff`
================================================================================
Capped exponential backoff with jitter, as a state machine the main loop polls: nothing
here sleeps. MiniMQTT's own retry loop sleeps inside ``connect()`` (and not at all after
socket errors), so the node runs it with ``connect_retries=1`` and waits here instead.
"""

from sensor_node.timing import Deadline, Uptime

try:
    from typing import Callable
except ImportError:
    pass


class Backoff:
    """Waits ``base_ms * 2**n`` after the n-th consecutive failure (n from 0), capped at
    ``cap_ms``, each wait drawn uniformly from its upper half (``random()`` in [0, 1)) so a
    room full of nodes does not reconnect in step after a broker restart."""

    def __init__(
        self, uptime: "Uptime", base_ms: int, cap_ms: int, random: "Callable[[], float]"
    ) -> None:
        self._deadline = Deadline(uptime)
        self._base_ms = base_ms
        self._cap_ms = cap_ms
        self._random = random
        self.failures = 0
        """Consecutive failures since the last success."""

    def ready(self) -> bool:
        """True when the next attempt may start."""
        return self._deadline.expired()

    def failed(self) -> int:
        """Record a failed attempt; returns the wait in ms before the next one."""
        ceiling = self._cap_ms
        if self.failures < 30:
            ceiling = min(self._cap_ms, self._base_ms * (1 << self.failures))
        wait_ms = ceiling // 2 + int(self._random() * (ceiling - ceiling // 2))
        self.failures += 1
        self._deadline.start(wait_ms)
        return wait_ms

    def reset(self) -> None:
        """Start over (after a success, or a fresh radio): the next attempt may start now
        and the next failure waits ``base_ms`` again."""
        self.failures = 0
        self._deadline.start(0)

    def remaining_ms(self) -> int:
        """Milliseconds until the next attempt may start."""
        return self._deadline.remaining_ms()
