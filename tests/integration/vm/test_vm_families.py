"""Issue 12's findings on CircuitPython's VM: the firmware bundle (``.mpy``) on each port
family's emulated modules (``vm/device``, following ``sensor_bridge.virtual.families``),
in real time. tests/integration/node/test_node_families.py runs the same cases faster on
the CPython engine; here what the VM decides (its exceptions, its errno values, its
``os.getenv``) is the board's.

Findings 4, 5 and 6 (what the link's recovery does on each family) are in
test_vm_recovery.py; 9 (the hold before an early nvm write) and 10 (the watchdog armed after
the imports) in test_vm_resets.py. Not on the VM, for the time they take in real time: the Pico W's
wedged radio (a reset after ``RESET_AFTER_OFFLINE_S``, at least 120 s; test_node_families)
and the nvm bound over a day of resets (tests/unit/firmware/test_firmware_boots.py, on a fake
clock; a reset loop holds 30 s, then 1, 2, 4 minutes between boots by design)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_protocol.payloads import decode_health
from tests.integration.vm.vm_node import vm_board, vm_drive
from tests.support.node import FEATHER_S3, PICO_W, UNUSABLE_SETTINGS, boots, topic
from tests.support.recorder import Recorder
from tests.support.waiting import stays_true


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
