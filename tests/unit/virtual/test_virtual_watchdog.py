"""The watchdog timer's rules per board, and RAISE mode."""

import threading
import time

import pytest

from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.families import CHIP_FAMILY
from sensor_bridge.virtual.pins import board_spec
from sensor_bridge.virtual.wdt import WatchDogMode, WatchdogMonitor, WatchDogTimeout, WatchDogTimer
from tests.unit.virtual.rig import ManualTime


def timer(board_id: str, clock: VirtualClock) -> WatchDogTimer:
    spec = board_spec(board_id)
    return WatchDogTimer(
        clock,
        max_timeout_s=spec.watchdog_max_s,
        can_raise=spec.watchdog_raise,
        family=CHIP_FAMILY[spec.family],
    )


def test_rp2040_limits() -> None:
    wdt = timer("raspberry_pi_pico_w", VirtualClock())
    with pytest.raises(ValueError):
        wdt.mode = WatchDogMode.RESET  # no timeout yet
    with pytest.raises(ValueError):
        wdt.timeout = 9.0
    wdt.timeout = 8.0
    with pytest.raises(NotImplementedError):
        wdt.mode = WatchDogMode.RAISE
    wdt.mode = WatchDogMode.RESET
    assert str(wdt.mode) == "watchdog.WatchDogMode.RESET"


def test_gaps_are_measured_in_virtual_time() -> None:
    real = ManualTime()
    wdt = timer("raspberry_pi_pico_w", VirtualClock(speed=10, real_monotonic=real))
    wdt.feed()  # disarmed: nothing happens
    wdt.timeout = 8.0
    wdt.mode = WatchDogMode.RESET
    real.advance(0.3)
    wdt.feed()
    real.advance(0.75)
    assert wdt.overdue() is None
    assert wdt.status() == {"timeout": 8.0, "mode": "RESET", "max_gap_s": 7.5, "feeds": 1}
    real.advance(0.1)
    assert wdt.overdue() == pytest.approx(8.5)


def test_raise_mode_raises_in_the_program_on_esp32() -> None:
    clock = VirtualClock(speed=20)
    wdt = timer("adafruit_feather_esp32s3_4mbflash_2mbpsram", clock)
    wdt.timeout = 1.0
    caught: list[BaseException] = []

    def program() -> None:
        wdt.mode = WatchDogMode.RAISE
        try:
            while True:
                time.sleep(0.001)
        except WatchDogTimeout as exc:
            caught.append(exc)

    thread = threading.Thread(target=program, daemon=True)
    monitor = WatchdogMonitor(wdt, policy="reset", reset=lambda: None, main_thread=thread)
    thread.start()
    monitor.start()
    thread.join(5.0)
    assert len(caught) == 1 and wdt.mode is None
