"""code.py's catch-all and safemode.py, with fake CircuitPython modules."""

import runpy
import time
import types
from pathlib import Path

import pytest

from sensor_node import app, persist
from sensor_node.console import parse_line
from sensor_node.timing import Uptime
from tests.unit.firmware.fakes import FakeClock, FakeWatchdog

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware"


class Board:
    def __init__(self, clock):
        self.clock = clock
        self.nvm = bytearray(256)
        self.resets = 0
        self.watchdog = FakeWatchdog(clock)

    def reset(self):
        self.resets += 1


@pytest.fixture
def board(monkeypatch):
    clock = FakeClock()
    fake = Board(clock)
    module = types.ModuleType("microcontroller")
    module.__dict__.update(nvm=fake.nvm, reset=fake.reset, watchdog=fake.watchdog)
    monkeypatch.setitem(__import__("sys").modules, "microcontroller", module)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    monkeypatch.setattr(app, "Uptime", lambda: Uptime(clock.ticks))
    return fake


def console_events(text):
    return [parse_line(line) for line in text.splitlines() if parse_line(line)]


def test_a_crash_is_logged_with_its_traceback_recorded_and_reset(board, monkeypatch, capsys):
    def boom(uptime, console):
        raise ValueError("thermocouple exploded")

    monkeypatch.setattr(app, "_start", boom)

    app.run()

    events = console_events(capsys.readouterr().out)
    names = [event[2] for event in events]
    assert "traceback" in names
    assert any("ValueError: thermocouple exploded" in e[3].get("line", "") for e in events)
    reset = events[-1]
    assert (reset[1], reset[2]) == ("ERROR", "reset")
    assert reset[3]["cause"] == "crash: ValueError: thermocouple exploded"
    assert board.resets == 1
    assert persist.begin_boot(board.nvm)[1] == "crash: ValueError: thermocouple exploded"


def test_a_crash_at_boot_waits_before_resetting_with_the_watchdog_fed(board, monkeypatch):
    monkeypatch.setattr(app, "_start", lambda uptime, console: 1 / 0)

    app.run()

    assert app.CRASH_HOLD_MS <= board.clock.ms <= app.CRASH_HOLD_MS + 1000
    assert board.watchdog.max_gap_ms <= 1000
    assert board.resets == 1


def test_a_late_crash_resets_at_once(board, monkeypatch):
    def late(uptime, console):
        board.clock.advance(app.EARLY_CRASH_MS + 1)
        raise RuntimeError("late")

    monkeypatch.setattr(app, "_start", late)

    app.run()

    assert board.clock.ms == app.EARLY_CRASH_MS + 1


def test_code_py_only_starts_the_app():
    source = (FIRMWARE / "code.py").read_text(encoding="utf-8")

    assert len(source.splitlines()) <= 20
    assert "app.run()" in source


def run_safemode(monkeypatch, reason):
    nvm = bytearray(256)
    resets = []
    micro = types.ModuleType("microcontroller")
    micro.__dict__.update(nvm=nvm, reset=lambda: resets.append(1))
    supervisor = types.ModuleType("supervisor")
    supervisor.__dict__["runtime"] = types.SimpleNamespace(
        safe_mode_reason="supervisor.SafeModeReason." + reason
    )
    sys_modules = __import__("sys").modules
    monkeypatch.setitem(sys_modules, "microcontroller", micro)
    monkeypatch.setitem(sys_modules, "supervisor", supervisor)
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    runpy.run_path(str(FIRMWARE / "safemode.py"), run_name="__main__")
    return nvm, resets, slept


def test_safe_mode_is_recorded_and_reset(monkeypatch, capsys):
    nvm, resets, slept = run_safemode(monkeypatch, "BROWNOUT")

    assert resets == [1]
    assert slept == [5]
    assert persist.begin_boot(nvm) == (1, "safe mode BROWNOUT", "BROWNOUT")
    line = parse_line(capsys.readouterr().out.splitlines()[0])
    assert line is not None
    assert (line[2], line[3]["reason"]) == ("safe_mode", "BROWNOUT")


def test_user_safe_mode_is_left_alone(monkeypatch):
    nvm, resets, _ = run_safemode(monkeypatch, "USER")

    assert resets == []
    assert nvm == bytearray(256)
