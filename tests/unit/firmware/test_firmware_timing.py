"""Uptime past the ticks wrap, and deadlines on it."""

from sensor_node.timing import Deadline, Uptime
from tests.unit.firmware.fakes import TICKS_PERIOD, FakeClock


def test_uptime_runs_on_across_the_ticks_wrap():
    clock = FakeClock()
    uptime = Uptime(clock.ticks)

    for _ in range(3 * 24):  # three wraps of 2**29 ms, an hour at a time
        clock.advance(3600 * 1000 * 2.5)
        uptime.ms()

    assert clock.ticks() < TICKS_PERIOD
    assert uptime.ms() == clock.ms
    assert uptime.ms() > 3 * TICKS_PERIOD / 5


def test_uptime_starts_at_zero_and_never_goes_back():
    clock = FakeClock()
    uptime = Uptime(clock.ticks)
    clock.advance(65_001)  # across the first wrap, 65 s after boot

    assert uptime.ms() == 65_001
    assert uptime.ms() == 65_001


def test_a_new_deadline_has_expired():
    uptime = Uptime(FakeClock().ticks)

    assert Deadline(uptime).expired()


def test_deadline_start_and_remaining():
    clock = FakeClock()
    deadline = Deadline(Uptime(clock.ticks))
    deadline.start(1000)
    clock.advance(400)

    assert not deadline.expired()
    assert deadline.remaining_ms() == 600
    clock.advance(600)
    assert deadline.expired()
    assert deadline.remaining_ms() == 0


def test_advance_keeps_a_fixed_rate():
    clock = FakeClock()
    deadline = Deadline(Uptime(clock.ticks))
    fired = []
    for _ in range(100):
        if deadline.expired():
            fired.append(clock.ms)
            deadline.advance(5000)
        clock.advance(700)  # a loop that wakes at odd times

    # Each firing is late by less than one wake-up interval, and lateness never adds up.
    assert len(fired) == 14
    for index, moment in enumerate(fired):
        assert 5000 * index <= moment - fired[0] < 5000 * index + 700


def test_advance_after_a_long_stall_restarts_instead_of_bursting():
    clock = FakeClock()
    deadline = Deadline(Uptime(clock.ticks))
    deadline.advance(5000)
    clock.advance(60_000)

    deadline.advance(5000)

    assert deadline.remaining_ms() == 5000
