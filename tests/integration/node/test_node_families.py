"""The real firmware on a board of each port family (raspberrypi: Pico W; espressif:
Feather ESP32-S3), where the family's own behaviour (sensor_bridge.virtual.families) meets it:
no ap_info on the Pico, a TCP reset for a refused connection, a radio restart that recovers
nothing on the Pico, a watchdog that refuses a new timeout on the ESP32, os.getenv's errors
for an unquoted decimal. The ESP32's Wi-Fi join that its timeout does not bound is tested on
the VM only (tests/integration/vm/test_vm_recovery.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_protocol.payloads import decode_health, decode_status
from tests.support.node import FEATHER_S3, PICO_W, UNUSABLE_SETTINGS, boots, make_drive, topic
from tests.support.recorder import Recorder
from tests.support.waiting import stays_true

BOARDS = [PICO_W, FEATHER_S3]


def test_the_pico_reports_health_without_rssi(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder
) -> None:
    # ports/raspberrypi/common-hal/wifi/Radio.c: ap_info raises NotImplementedError.
    drive = make_drive(tmp_path / "drive", PICO_W, broker.port, HEALTH_PERIOD_S=10)
    with VirtualBoardProcess(drive, speed=10) as board:
        first = recorder.wait_for(lambda m: m.topic == topic("health"), 30)
        after = recorder.messages.index(first) + 1
        recorder.wait_for(lambda m: m.topic == topic("health"), 30, after=after)
        assert boots(board) == 1
    assert decode_health(first.payload)["rssi"] is None


def test_the_esp32_arms_its_watchdog_once_below_its_maximum(
    tmp_path: Path, broker: Mosquitto
) -> None:
    # ports/espressif/common-hal/watchdog/WatchDogTimer.c: a new timeout on a running
    # watchdog raises espidf.IDFError.
    drive = make_drive(tmp_path / "drive", FEATHER_S3, broker.port, WATCHDOG_S=25)
    with VirtualBoardProcess(drive, speed=10) as board:
        board.wait_for(r" INFO birth_published ", 30)
        status = board.status()
        assert boots(board) == 1
    assert status["watchdog"]["timeout"] == 25.0 and status["watchdog"]["mode"] == "RESET"


@pytest.mark.parametrize("board_id", BOARDS)
def test_a_broker_that_is_down_on_a_live_host_costs_no_radio_restart(
    tmp_path: Path, broker: Mosquitto, board_id: str
) -> None:
    # The Pi's kernel answers with a TCP reset, which lwIP reports as ECONNRESET.
    drive = make_drive(tmp_path / "drive", board_id, broker.port, RADIO_RESTART_AFTER_S=30)
    with VirtualBoardProcess(drive, speed=20) as board:
        board.wait_for(r" INFO birth_published ", 30)
        broker.kill()
        board.wait_for(r" WARN mqtt_connect_failed .*ECONNRESET", 30)
        time.sleep(120 / 20)
        mark = board.mark()
        broker.start()
        board.wait_for(r" INFO birth_published ", 60, since=mark)
        assert boots(board) == 1
    assert [line for line in board.lines if "radio_restart" in line] == []


@pytest.mark.parametrize("board_id", BOARDS)
def test_a_wedged_radio_is_restarted_only_where_that_recovers_it(
    tmp_path: Path, broker: Mosquitto, board_id: str
) -> None:
    drive = make_drive(
        tmp_path / "drive",
        board_id,
        broker.port,
        SAMPLE_PERIOD_S=1,
        BUFFER_CAPACITY=60,
        RADIO_RESTART_AFTER_S=30,
        RESET_AFTER_OFFLINE_S=150,
    )
    with VirtualBoardProcess(drive, speed=20) as board:
        board.wait_for(r" INFO birth_published ", 30)
        mark = board.mark()
        board.control.send({"cmd": "net", "state": "wedged"})
        board.wait_for(r" INFO birth_published ", 120, since=mark)
        lines = board.lines[mark:]
    restarts = [line for line in lines if " radio_restart " in line]
    skipped = [line for line in lines if " radio_restart_skipped " in line]
    resets = [line for line in lines if " ERROR reset " in line]
    if board_id == FEATHER_S3:
        # esp_wifi_stop really stops the radio: the restart recovers it, no reset.
        assert len(restarts) == 1 and skipped == [] and resets == []
    else:
        # The CYW43 is not restarted: the ladder goes on to the reset, which recovers it.
        assert restarts == [] and len(skipped) == 1
        assert len(resets) == 1 and "offline 15" in resets[0]


@pytest.mark.parametrize(("overrides", "line", "key"), UNUSABLE_SETTINGS)
def test_settings_the_board_cannot_use_are_shown_not_crashed_on(
    tmp_path: Path, broker: Mosquitto, overrides: dict[str, object], line: str, key: str
) -> None:
    drive = make_drive(tmp_path / "drive", PICO_W, broker.port, **overrides)
    settings = drive / "settings.toml"
    settings.write_text(settings.read_text() + line + "\n")
    with VirtualBoardProcess(drive, speed=20) as board:
        error = board.wait_for(r" ERROR settings ", 30)
        # Two virtual minutes: long enough for any crash loop to show.
        stays_true(
            lambda: board.returncode is None and boots(board) == 1, 6, "no reset, no crash loop"
        )
    assert f"key={key}" in error
    assert boots(board) == 1
    assert [x for x in board.lines if "Traceback" in x or " traceback " in x] == []


def test_the_cause_of_a_reset_is_in_the_next_birth(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder
) -> None:
    # The boot after power-on has already had its one early nvm write (its number): the
    # cause of its first reset stays on the console. The boot that reset started records it.
    drive = make_drive(
        tmp_path / "drive",
        PICO_W,
        broker.port,
        SAMPLE_PERIOD_S=1,
        BUFFER_CAPACITY=60,
        RADIO_RESTART_AFTER_S=30,
        RESET_AFTER_OFFLINE_S=120,
    )
    with VirtualBoardProcess(drive, speed=20) as board:
        board.wait_for(r" INFO birth_published ", 30)
        board.control.send({"cmd": "net", "state": "blackhole"})
        board.wait_for(r" ERROR reset ", 60)
        second = board.wait_for(r" INFO boot .*reset_reason=SOFTWARE", 90)
        mark = board.mark()
        board.wait_for(r" ERROR reset ", 90, since=mark)
        board.control.send({"cmd": "net", "state": "up"})
        board.wait_for(r" INFO boot .*reset_cause=\"offline 1", 90, since=mark)
        birth = recorder.wait_for(
            lambda m: m.topic == topic("status") and b"offline 1" in m.payload, 60
        )
        nvm = board.status()["nvm"]
    assert "reset_cause=-" in second
    assert decode_status(birth.payload)["reset_reason"] == "SOFTWARE"
    assert nvm["writes"] == 2, "one at power-on, one recording the second reset"
