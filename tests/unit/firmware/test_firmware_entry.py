"""code.py's catch-all and safemode.py, with fake CircuitPython modules."""

import runpy
import time
import types
from pathlib import Path

import pytest

from sensor_bridge.console.lines import parse_line
from sensor_node import app, persist
from sensor_node.timing import Uptime
from tests.unit.firmware.fakes import FakeClock, FakeWatchdog

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware"


class Board:
    def __init__(self, clock):
        self.clock = clock
        self.nvm = bytearray(256)
        self.resets = 0
        self.watchdog = FakeWatchdog(clock)
        self.cpu = types.SimpleNamespace(reset_reason="microcontroller.ResetReason.SOFTWARE")

    def reset(self):
        self.resets += 1


@pytest.fixture
def board(monkeypatch):
    clock = FakeClock()
    fake = Board(clock)
    module = types.ModuleType("microcontroller")
    module.__dict__.update(nvm=fake.nvm, reset=fake.reset, watchdog=fake.watchdog, cpu=fake.cpu)
    supervisor = types.ModuleType("supervisor")
    supervisor.__dict__["runtime"] = types.SimpleNamespace(run_reason="RunReason.STARTUP")
    monkeypatch.setitem(__import__("sys").modules, "supervisor", supervisor)
    monkeypatch.setitem(__import__("sys").modules, "microcontroller", module)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    monkeypatch.setattr(app, "Uptime", lambda: Uptime(clock.ticks))
    return fake


def console_events(text):
    return [parse_line(line) for line in text.splitlines() if parse_line(line)]


def test_a_crash_is_logged_with_its_traceback_recorded_and_reset(board, monkeypatch, capsys):
    def boom(*args):
        raise ValueError("thermocouple exploded")

    monkeypatch.setattr(app, "_boot", boom)

    app.run()

    events = console_events(capsys.readouterr().out)
    names = [event[2] for event in events]
    assert "traceback" in names
    assert any("ValueError: thermocouple exploded" in e[3].get("line", "") for e in events)
    reset = events[-1]
    assert (reset[1], reset[2]) == ("ERROR", "reset")
    assert reset[3]["cause"] == "crash: ValueError: thermocouple exploded"
    assert board.resets == 1
    cause = persist.BootRecord(board.nvm, "SOFTWARE", "STARTUP").cause
    assert cause == "crash: ValueError: thermocouple exploded"


def test_crashes_at_boot_wait_longer_and_longer_with_the_watchdog_fed(board, monkeypatch):
    monkeypatch.setattr(app, "_boot", lambda *args: 1 / 0)

    waits = []
    for _ in range(4):
        started = board.clock.ms
        app.run()
        waits.append((board.clock.ms - started) // 1000)

    assert waits == [0, 30, 60, 120]
    assert board.watchdog.max_gap_ms <= 1000
    assert board.resets == 4


def test_a_late_crash_resets_at_once(board, monkeypatch):
    def late(*args):
        board.clock.advance(persist.LONG_BOOT_MS)
        raise RuntimeError("late")

    monkeypatch.setattr(app, "_boot", late)

    for _ in range(3):
        started = board.clock.ms
        app.run()
        assert board.clock.ms - started == persist.LONG_BOOT_MS


def test_code_py_only_starts_the_app():
    source = (FIRMWARE / "code.py").read_text(encoding="utf-8")

    assert len(source.splitlines()) <= 20
    assert "app.run()" in source


def run_safemode(monkeypatch, reason, nvm=None):
    nvm = bytearray(256) if nvm is None else nvm
    resets = []
    micro = types.ModuleType("microcontroller")
    cpu = types.SimpleNamespace(reset_reason="microcontroller.ResetReason.BROWNOUT")
    micro.__dict__.update(nvm=nvm, reset=lambda: resets.append(1), cpu=cpu)
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
    assert sum(slept) == 5
    record = persist.BootRecord(nvm, "SOFTWARE", "STARTUP")
    assert (record.cause, record.safe_mode) == ("safe mode BROWNOUT", "BROWNOUT")
    line = parse_line(capsys.readouterr().out.splitlines()[0])
    assert line is not None
    assert (line[2], line[3]["reason"]) == ("safe_mode", "BROWNOUT")


def test_a_safe_mode_loop_waits_longer_and_longer(monkeypatch):
    nvm = bytearray(256)
    waits = [sum(run_safemode(monkeypatch, "BROWNOUT", nvm)[2]) for _ in range(4)]

    assert waits == [5, 30, 60, 120]


def test_user_safe_mode_is_left_alone(monkeypatch):
    nvm, resets, _ = run_safemode(monkeypatch, "USER")

    assert resets == []
    assert nvm == bytearray(256)
