"""Issue 12's findings 4, 5 and 6 on CircuitPython's VM: what the link's recovery does on
each port family, in real time. A broker host that refuses (a TCP reset, a CONNACK refusal)
costs no radio restart; a wedged ESP32 radio is restarted and recovers; the ESP32's
watchdog outlasts a Wi-Fi join that its timeout does not bound. The bundle (``.mpy``) runs on
the family's emulated modules (``vm/device``, following ``sensor_bridge.virtual.families``);
tests/integration/node/test_node_families.py runs the same cases faster on the CPython
engine."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.families import ESPRESSIF
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from tests.integration.vm.vm_node import vm_board, vm_drive
from tests.support.connack import refusing_logins
from tests.support.node import FEATHER_S3, PICO_W, boots
from tests.support.waiting import wait_until

RADIO_RESTART_AFTER_S = 30


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
