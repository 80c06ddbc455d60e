"""The virtual clock, ticks, and the replacement ``time`` and ``rtc`` modules."""

import threading
import time

import pytest
from adafruit_ticks import ticks_add, ticks_diff, ticks_less

from sensor_bridge.virtual.clock import TICKS_PERIOD, VirtualClock, float30
from sensor_bridge.virtual.timemod import RTC_BOOT_EPOCH, RealTimeClock, build_time_module
from tests.unit.virtual.rig import ManualTime


def test_virtual_time_is_real_time_times_speed() -> None:
    real = ManualTime()
    clock = VirtualClock(speed=10, real_monotonic=real)
    real.advance(1.5)
    assert clock.physical() == pytest.approx(15.0)
    clock.set_speed(2)
    assert clock.physical() == pytest.approx(15.0), "no jump on a speed change"
    real.advance(1.0)
    assert clock.physical() == pytest.approx(17.0)
    assert clock.real_seconds(10.0) == pytest.approx(5.0)


def test_uptime_starts_at_this_boot() -> None:
    real = ManualTime()
    clock = VirtualClock(physical_s=500.0, real_monotonic=real)
    real.advance(2.0)
    assert clock.physical() == pytest.approx(502.0)
    assert clock.uptime() == pytest.approx(2.0)


def test_sleep_waits_the_scaled_real_time() -> None:
    clock = VirtualClock(speed=50)
    started, virtual = time.monotonic(), clock.physical()
    clock.sleep(2.0)
    assert clock.physical() - virtual >= 2.0
    assert time.monotonic() - started < 0.5


def test_a_speed_change_replans_a_sleep_in_progress() -> None:
    clock = VirtualClock(speed=1)
    done = threading.Event()

    def sleeper() -> None:
        clock.sleep(20.0)
        done.set()

    threading.Thread(target=sleeper, daemon=True).start()
    time.sleep(0.05)
    clock.set_speed(1000)
    assert done.wait(1.0)


def test_ticks_start_65_s_before_the_wrap_and_wrap_at_2_to_the_29() -> None:
    real = ManualTime()
    clock = VirtualClock(real_monotonic=real)
    first = clock.ticks_ms()
    assert first == TICKS_PERIOD - 65_000
    real.advance(64.5)
    before = clock.ticks_ms()
    real.advance(0.75)
    after = clock.ticks_ms()
    assert after == 250, "wrapped"
    assert ticks_diff(after, before) == 750
    assert ticks_less(before, after)
    assert ticks_diff(after, first) == 65_250
    assert ticks_add(before, 750) == after


def test_monotonic_has_circuitpythons_float_precision() -> None:
    three_hours = 3 * 3600 + 0.001
    assert float30(three_hours) != three_hours
    assert abs(float30(three_hours) - three_hours) < 0.01
    assert float30(1.5) == 1.5


@pytest.fixture
def vtime() -> tuple[ManualTime, RealTimeClock, object]:
    real = ManualTime()
    clock = VirtualClock(real_monotonic=real)
    rtc = RealTimeClock(clock)
    return real, rtc, build_time_module(clock, rtc)


def test_time_module_follows_the_virtual_clock(vtime: tuple) -> None:
    real, rtc, vt = vtime
    assert vt.time() == RTC_BOOT_EPOCH, "the RTC starts at 2000-01-01"
    assert isinstance(vt.time(), int)
    real.advance(3.25)
    assert vt.monotonic() == pytest.approx(3.25)
    assert vt.monotonic_ns() == 3_250_000_000
    assert vt.localtime().tm_year == 2000
    rtc.set(1_767_225_600)  # 2026-01-01T00:00:00Z
    real.advance(10)
    assert vt.time() == 1_767_225_610
    assert vt.localtime()[:6] == (2026, 1, 1, 0, 0, 10), "UTC: CircuitPython has no zones"
    assert vt.mktime(vt.localtime()) == 1_767_225_610
    assert vt.struct_time is time.struct_time


def test_time_module_rejects_what_circuitpython_rejects(vtime: tuple) -> None:
    _, _, vt = vtime
    with pytest.raises(OverflowError):
        vt.localtime(0)
    with pytest.raises(ValueError):
        vt.sleep(-1)
