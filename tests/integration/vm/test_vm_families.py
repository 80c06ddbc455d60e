"""Issue 12's findings on CircuitPython's VM: the firmware bundle (``.mpy``) on each port
family's emulated modules (``vm/device``, following ``sensor_bridge.virtual.families``),
in real time. tests/integration/node/test_node_families.py runs the same cases faster on
the CPython engine; here what the VM decides (its exceptions, its errno values, its
``os.getenv``) is the board's.

Findings 9 (the hold before an early nvm write) and 10 (the watchdog armed after the imports)
are in test_vm_resets.py. Not on the VM, for the time they take in real time: the Pico W's
wedged radio (a reset after ``RESET_AFTER_OFFLINE_S``, at least 120 s; test_node_families)
and the nvm bound over a day of resets (tests/unit/firmware/test_firmware_boots.py, on a fake
clock; a reset loop holds 30 s, then 1, 2, 4 minutes between boots by design)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.families import ESPRESSIF
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_protocol.payloads import decode_health
from tests.integration.vm.vm_node import vm_board, vm_drive
from tests.support.connack import refusing_logins
from tests.support.node import FEATHER_S3, PICO_W, UNUSABLE_SETTINGS, boots, topic
from tests.support.recorder import Recorder
from tests.support.waiting import stays_true, wait_until

RADIO_RESTART_AFTER_S = 30


def test_finding_1_the_pico_reports_health_without_rssi(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder
) -> None:
    # ports/raspberrypi/common-hal/wifi/Radio.c: ap_info raises NotImplementedError.
    drive = vm_drive(tmp_path / "drive", PICO_W, broker.port, HEALTH_PERIOD_S=10)
    with vm_board(drive, PICO_W) as board:
        first = recorder.wait_for(lambda m: m.topic == topic("health"), 40)
        after = recorder.messages.index(first) + 1
        recorder.wait_for(lambda m: m.topic == topic("health"), 30, after=after)
        assert boots(board) == 1
    assert decode_health(first.payload)["rssi"] is None


def test_finding_3_the_esp32_arms_its_watchdog_once(tmp_path: Path, broker: Mosquitto) -> None:
    # ports/espressif/common-hal/watchdog/WatchDogTimer.c: a new timeout on a running
    # watchdog raises espidf.IDFError, which the VM's watchdog module raises too.
    drive = vm_drive(tmp_path / "drive", FEATHER_S3, broker.port, WATCHDOG_S=25)
    with vm_board(drive, FEATHER_S3) as board:
        board.wait_for(r" INFO birth_published ", 60)
        status = board.status()
        assert boots(board) == 1
    assert status["watchdog"]["timeout"] == 25.0 and status["watchdog"]["mode"] == "RESET"


def refused_for(board: VirtualBoardProcess, seconds: float, since: int) -> None:
    """Return once the board has tried to connect and failed for ``seconds`` by its own clock
    (a failed connect at least that long after the first since ``since``), and a moment more:
    had the failures counted as silence, the radio restart would be logged by then."""

    def uptimes() -> list[float]:
        failed = [line for line in board.lines[since:] if " WARN mqtt_connect_failed " in line]
        return [float(line.split()[0]) for line in failed]

    # The backoff's waits (capped at 30 s, drawn from their upper half) decide when.
    wait_until(lambda: bool(uptimes()), 30, "a failed connect")
    wait_until(
        lambda: uptimes()[-1] >= uptimes()[0] + seconds, seconds + 60, f"{seconds} s of failures"
    )
    time.sleep(2)


@pytest.mark.parametrize("refusal", ["tcp-reset", "connack-3"])
def test_finding_4_a_broker_host_that_refuses_costs_no_radio_restart(
    tmp_path: Path, broker: Mosquitto, refusal: str
) -> None:
    """The broker killed on a live host: both families report the TCP reset as ECONNRESET
    (the VM's errno row, families.py). Or a server there that refuses the login with CONNACK
    3: MiniMQTT 8.1.0 turns codes 1 to 3 into a plain "Connect failure", and what the
    firmware then sees is what CircuitPython's MiniMQTT and exception chains give it. The
    Pico W, whose radio restart recovers nothing, stands for both families."""
    drive = vm_drive(
        tmp_path / "drive", PICO_W, broker.port, RADIO_RESTART_AFTER_S=RADIO_RESTART_AFTER_S
    )
    with vm_board(drive, PICO_W) as board:
        board.wait_for(r" INFO birth_published ", 60)
        mark = board.mark()
        broker.kill()
        with contextlib.ExitStack() as refusing:
            refused = []
            if refusal == "connack-3":
                refused = refusing.enter_context(refusing_logins(broker.port, 3))
            refused_for(board, RADIO_RESTART_AFTER_S, mark)
        failures = [line for line in board.lines[mark:] if " mqtt_connect_failed " in line]
        mark = board.mark()
        broker.start()
        board.wait_for(r" INFO birth_published ", 60, since=mark)
        assert boots(board) == 1
    assert [line for line in board.lines if "radio_restart" in line] == []
    if refusal == "connack-3":
        assert len(refused) >= 3, refused
    else:
        assert any("ECONNRESET" in line for line in failures), failures


def test_finding_5_a_wedged_esp32_radio_is_restarted_and_recovers(
    tmp_path: Path, broker: Mosquitto
) -> None:
    # esp_wifi_stop really stops the radio (ports/espressif/common-hal/wifi/Radio.c).
    drive = vm_drive(
        tmp_path / "drive",
        FEATHER_S3,
        broker.port,
        RADIO_RESTART_AFTER_S=RADIO_RESTART_AFTER_S,
        RESET_AFTER_OFFLINE_S=150,
    )
    with vm_board(drive, FEATHER_S3) as board:
        board.wait_for(r" INFO birth_published ", 60)
        mark = board.mark()
        board.control.send({"cmd": "net", "state": "wedged"})
        board.wait_for(r" INFO birth_published ", 120, since=mark)
        lines = board.lines[mark:]
    assert len([line for line in lines if " radio_restart " in line]) == 1
    assert [line for line in lines if " ERROR reset " in line] == []


def test_finding_6_the_esp32_watchdog_outlasts_a_join_its_timeout_does_not_bound(
    tmp_path: Path, broker: Mosquitto
) -> None:
    drive = vm_drive(tmp_path / "drive", FEATHER_S3, broker.port, WATCHDOG_S=25)
    with vm_board(drive, FEATHER_S3, watchdog="fail") as board:
        board.wait_for(r" INFO birth_published ", 60)
        board.control.send({"cmd": "net", "state": "ap_silent"})
        board.wait_for(r" WARN wifi_connect_failed .*Authentication failure", 90)
        mark = board.mark()
        board.control.send({"cmd": "net", "state": "up"})
        board.wait_for(r" INFO birth_published ", 120, since=mark)
        watchdog = board.status()["watchdog"]
        assert board.returncode is None
    assert ESPRESSIF.wifi_connect_attempt_s <= watchdog["max_gap_s"] < 25.0, watchdog


@pytest.mark.parametrize(("overrides", "line", "key"), UNUSABLE_SETTINGS)
def test_findings_7_and_8_settings_the_board_cannot_use_are_shown_not_crashed_on(
    tmp_path: Path, broker: Mosquitto, overrides: dict[str, object], line: str, key: str
) -> None:
    drive = vm_drive(tmp_path / "drive", PICO_W, broker.port, **overrides)
    settings = drive / "settings.toml"
    settings.write_text(settings.read_text() + line + "\n")
    with vm_board(drive, PICO_W) as board:
        error = board.wait_for(r" ERROR settings ", 60)
        stays_true(
            lambda: board.returncode is None and boots(board) == 1, 8, "no reset, no crash loop"
        )
    assert f"key={key}" in error
    assert [x for x in board.lines if "Traceback" in x or " traceback " in x] == []


def test_a_10_2_board_takes_the_decimal_that_10_1_refuses(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder
) -> None:
    """The drive's boot_out.txt says 10.2.0: ``os.getenv`` answers as
    supervisor/shared/settings.c does from 10.2 (every value as text), so the unquoted
    ``FLAME_DIVIDER_RATIO = 3.27`` that 10.1 refuses (finding 7) is a setting like any other."""
    drive = vm_drive(tmp_path / "drive", PICO_W, broker.port, FLAME_DIVIDER_RATIO=None)
    settings = drive / "settings.toml"
    settings.write_text(settings.read_text() + "FLAME_DIVIDER_RATIO = 3.27\n")
    (drive / "boot_out.txt").write_text(
        "Adafruit CircuitPython 10.2.0 on 2026-01-01; Raspberry Pi Pico W with rp2040\n"
        f"Board ID:{PICO_W}\n"
    )
    with vm_board(drive, PICO_W) as board:
        board.wait_for(r" INFO settings_ok ", 60)
        recorder.wait_for(lambda m: m.topic == topic("telemetry"), 30)
        assert boots(board) == 1
    assert [x for x in board.lines if " ERROR " in x] == []
