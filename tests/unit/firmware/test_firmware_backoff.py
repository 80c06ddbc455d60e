"""Capped exponential backoff with jitter."""

import random

from sensor_node.backoff import Backoff
from sensor_node.timing import Uptime
from tests.unit.firmware.fakes import FakeClock


def make(rng):
    clock = FakeClock()
    return clock, Backoff(Uptime(clock.ticks), 1000, 30000, rng)


def test_ready_at_first_and_after_a_reset():
    _, backoff = make(lambda: 0.5)

    assert backoff.ready()
    backoff.failed()
    assert not backoff.ready()
    backoff.reset()
    assert backoff.ready()
    assert backoff.failures == 0


def test_waits_double_up_to_the_cap_within_the_upper_half():
    for draw in (0.0, 0.999999):
        _, backoff = make(lambda draw=draw: draw)
        waits = [backoff.failed() for _ in range(10)]
        ceilings = [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000, 30000]
        for wait, ceiling in zip(waits, ceilings, strict=True):
            assert ceiling // 2 <= wait <= ceiling


def test_the_wait_is_what_ready_honours():
    clock, backoff = make(lambda: 0.3)
    for _ in range(4):
        wait = backoff.failed()
        clock.advance(wait - 1)
        assert not backoff.ready()
        assert backoff.remaining_ms() == 1
        clock.advance(1)
        assert backoff.ready()


def test_jitter_spreads_nodes_apart():
    rng = random.Random(4)
    waits = set()
    for _ in range(50):
        _, backoff = make(rng.random)
        for _ in range(5):
            wait = backoff.failed()
        waits.add(wait)

    assert len(waits) > 40
    assert min(waits) >= 8000
    assert max(waits) <= 16000


def test_a_long_outage_never_overflows():
    _, backoff = make(lambda: 0.5)
    for _ in range(1000):
        wait = backoff.failed()

    assert wait == 22500
