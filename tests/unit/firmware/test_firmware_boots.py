"""The firmware's start and its resets, boot after boot, on fake CircuitPython modules with
the virtual board's nvm (which counts flash erases as the port family does) and watchdog
(which reacts to a change as the port does), all on one fake clock. The node itself is a
stand-in: each test says what it does (crash after a while, hang until the watchdog fires,
run). Figures per simulated day are printed (pytest -s)."""

import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.families import ESPRESSIF, RASPBERRYPI, PortFamily
from sensor_bridge.virtual.mcu import Nvm
from sensor_bridge.virtual.wdt import WatchDogMode, WatchDogTimer
from sensor_node import app, boot, persist
from sensor_node.timing import Uptime
from tests.unit.firmware.fakes import VALID_ENV, FakeClock

HOUR_MS = 3600 * 1000


class Reset(BaseException):
    """microcontroller.reset(): this boot ends."""


class WatchdogFired(BaseException):
    """The watchdog reset the board."""


class TimedNvm(Nvm):
    """The virtual board's nvm, also noting when (fake ms) each write happened."""

    def __init__(self, clock: FakeClock, path: Path, family: PortFamily) -> None:
        super().__init__(path, 4096, family.nvm_erase_bytes)
        self._clock = clock
        self.times: list[int] = []

    def __setitem__(self, index, value) -> None:
        self.times.append(self._clock.ms)
        super().__setitem__(index, value)


class BoardRig:
    """Boots the firmware again and again; ``node`` is what the node does once composed."""

    def __init__(self, monkeypatch, tmp_path: Path, family: PortFamily, **env) -> None:
        self.clock = clock = FakeClock()
        virtual_clock = VirtualClock(real_monotonic=lambda: clock.ms / 1000)
        self.nvm = TimedNvm(clock, tmp_path / "nvm.bin", family)
        self.dog = WatchDogTimer(virtual_clock, max_timeout_s=None, can_raise=False, family=family)
        self.reset_reason = "POWER_ON"
        self.boots = 0
        self.births: list[int] = []
        self.node: Callable[[], None] = lambda: None
        self.composed_overdue: float | None = None
        self.firmware_sleep: Callable[[float], None] = self._sleep
        esp = family is ESPRESSIF
        board_module = types.ModuleType("boards.fake_board")
        board_module.__dict__.update(
            STATUS_NEOPIXEL=None,
            NEOPIXEL_POWER=None,
            STATUS_LED=None,
            DEFAULT_BUFFER_CAPACITY=720,
            WATCHDOG_MAX_S=30.0 if esp else 8.0,
            WATCHDOG_MIN_S=25.0 if esp else 8.0,
            RADIO_RESTART=esp,
        )
        # Plain MQTT: these boots never connect, and the CA file's checks have their tests.
        settings = {**VALID_ENV, "MQTT_TLS": "0", **env}
        self.cpu = types.SimpleNamespace(reset_reason=None)
        modules = {
            "boards.fake_board": board_module,
            "board": types.SimpleNamespace(board_id="fake_board"),
            "microcontroller": types.SimpleNamespace(
                nvm=self.nvm, watchdog=self.dog, cpu=self.cpu, reset=self._reset
            ),
            "watchdog": types.SimpleNamespace(WatchDogMode=WatchDogMode),
            "supervisor": types.SimpleNamespace(
                runtime=types.SimpleNamespace(autoreload=True, run_reason="RunReason.STARTUP")
            ),
            "os": types.SimpleNamespace(getenv=settings.get),
            "digitalio": types.ModuleType("digitalio"),
        }
        for name, module in modules.items():
            monkeypatch.setitem(sys.modules, name, module)
        monkeypatch.setattr(time, "sleep", self._sleep)
        monkeypatch.setattr(app, "Uptime", lambda: Uptime(clock.ticks))
        monkeypatch.setattr(boot, "_compose", self._compose)
        # The test process keeps its modules (the patched boot, the fake board module) from
        # one boot to the next; test_firmware_app checks the forgetting itself.
        monkeypatch.setattr(app, "forget_boot_modules", lambda modules: None)

    def _sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)
        self._check_watchdog()

    def _check_watchdog(self) -> None:
        if self.dog.overdue() is not None:
            raise WatchdogFired

    def _reset(self) -> None:
        raise Reset

    def _compose(self, *, record, sleep, **parts):
        self.firmware_sleep = sleep
        # Where the firmware imports MiniMQTT and the drivers: compiling them takes seconds
        # on an RP2040 (finding 10); 12 s here, more than the Pico's whole watchdog.
        self.clock.advance(12_000)
        self.composed_overdue = self.dog.overdue()
        self.births.append(record.number)
        rig = self

        class Node:
            def run(self) -> None:
                rig.node()

        return Node()

    def boot(self) -> str:
        """One boot; how it ended: "ran", "reset" or "watchdog"."""
        self.boots += 1
        self.cpu.reset_reason = "microcontroller.ResetReason." + self.reset_reason
        self.dog.deinit()
        try:
            app.run()
        except Reset:
            self.reset_reason = "SOFTWARE"
            return "reset"
        except WatchdogFired:
            self.reset_reason = "WATCHDOG"
            return "watchdog"
        return "ran"

    def crash_after(self, seconds: float) -> None:
        def node() -> None:
            self.run_for(seconds)
            raise RuntimeError("boom")

        self.node = node

    def hang_after(self, seconds: float) -> None:
        def node() -> None:
            self.run_for(seconds)
            while True:
                self.clock.advance(1000)
                self._check_watchdog()

        self.node = node

    def run_for(self, seconds: float) -> None:
        """The loop: feed, then the firmware's pause."""
        for _ in range(int(seconds)):
            self.dog.feed()
            self.firmware_sleep(1)

    def writes_per_hour(self, hours: int) -> list[int]:
        """Boots through ``hours`` simulated hours; nvm writes in each."""
        start = self.clock.ms
        while self.clock.ms < start + hours * HOUR_MS:
            self.boot()
        return [
            sum(
                start + hour * HOUR_MS <= at < start + (hour + 1) * HOUR_MS for at in self.nvm.times
            )
            for hour in range(hours)
        ]


def test_the_watchdog_is_armed_once_with_its_final_timeout(monkeypatch, tmp_path):
    # espressif: a new timeout on a running watchdog raises espidf.IDFError (finding 3).
    rig = BoardRig(monkeypatch, tmp_path, ESPRESSIF, WATCHDOG_S="26")

    assert rig.boot() == "ran"
    assert rig.dog.status()["timeout"] == 26.0 and rig.dog.mode is WatchDogMode.RESET


def test_the_libraries_load_before_the_watchdog_runs(monkeypatch, tmp_path):
    rig = BoardRig(monkeypatch, tmp_path, RASPBERRYPI)

    assert rig.boot() == "ran"
    assert rig.composed_overdue is None
    assert rig.dog.status()["timeout"] == 8.0 and rig.dog.mode is WatchDogMode.RESET


@pytest.mark.parametrize(
    ("family", "ends", "after_s"),
    [
        (RASPBERRYPI, "crash", 0),
        (RASPBERRYPI, "crash", 70),  # finding 1: ap_info after the Wi-Fi join
        (RASPBERRYPI, "crash", 1200),
        (RASPBERRYPI, "hang", 30),  # the watchdog resets it
        (ESPRESSIF, "crash", 70),
    ],
)
def test_no_loop_wears_the_flash(*, monkeypatch, tmp_path, capsys, family, ends, after_s):
    rig = BoardRig(monkeypatch, tmp_path, family)
    (rig.crash_after if ends == "crash" else rig.hang_after)(after_s)

    hours = rig.writes_per_hour(25)

    sectors = rig.nvm.erased_bytes // 4096
    with capsys.disabled():
        print(
            f"\n{family.name}, {ends} {after_s} s after start: {rig.boots} boots in 25 h, nvm "
            f"writes per hour {hours}, {sectors} flash sectors erased"
        )
    assert hours[0] <= 10
    assert max(hours[1:]) <= 6
    assert len(set(rig.births)) == len(rig.births), "every boot that could publish has its number"


def test_a_healthy_node_writes_at_its_start_and_once_after_an_hour(monkeypatch, tmp_path):
    rig = BoardRig(monkeypatch, tmp_path, RASPBERRYPI)
    rig.node = lambda: rig.run_for(10 * 3600)

    assert rig.boot() == "ran"
    assert [at // HOUR_MS for at in rig.nvm.times] == [0, 1]


def test_a_recovered_loop_clears_its_streak_after_an_hour(monkeypatch, tmp_path):
    rig = BoardRig(monkeypatch, tmp_path, RASPBERRYPI)
    rig.crash_after(0)
    for _ in range(4):
        rig.boot()
    assert persist.BootRecord(rig.nvm, "POWER_ON", "STARTUP").streak == 4

    rig.node = lambda: rig.run_for(3601)
    assert rig.boot() == "ran"
    assert persist.BootRecord(rig.nvm, "POWER_ON", "STARTUP").streak == 0
