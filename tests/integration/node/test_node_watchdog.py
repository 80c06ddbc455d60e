"""No loop iteration blocks past the watchdog budget, whatever the network does.

The virtual board measures the longest gap between watchdog feeds on its own clock and, in
``fail`` mode, ends the run if the watchdog ever expires. The Pico W has the tightest budget:
8 s, the RP2040's hardware maximum.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from tests.support.netfaults import FAULTS
from tests.support.node import DEVICE, PICO_W, make_drive
from tests.support.waiting import stays_true

SPEED = 10
FAULT_S = 90
BUDGET_S = 8.0


@pytest.mark.parametrize("fault", list(FAULTS))
def test_longest_iteration_stays_under_the_budget(
    tmp_path: Path, broker: Mosquitto, fault: str
) -> None:
    drive = make_drive(tmp_path / "drive", PICO_W, broker.port, SAMPLE_PERIOD_S=1)
    with VirtualBoardProcess(drive, speed=SPEED, watchdog="fail") as board:
        board.wait_for(r" INFO birth_published ", 30)
        mark = FAULTS[fault](board, broker, FAULT_S)
        board.wait_for(r" INFO birth_published ", 60, since=mark)
        watchdog = board.status()["watchdog"]
    assert watchdog["timeout"] == BUDGET_S
    assert watchdog["max_gap_s"] < BUDGET_S, watchdog
    print(f"{fault}: longest gap between watchdog feeds {watchdog['max_gap_s']:.3f} s")


def test_rejected_login_stays_under_the_budget(tmp_path: Path) -> None:
    workdir = tmp_path / "broker"
    workdir.mkdir()
    with Mosquitto(workdir, users={DEVICE: "right-password"}) as broker:
        drive = make_drive(
            tmp_path / "drive", PICO_W, broker.port, MQTT_USER=DEVICE, MQTT_PASSWORD="wrong"
        )
        with VirtualBoardProcess(drive, speed=SPEED, watchdog="fail") as board:
            board.wait_for(r" WARN mqtt_connect_failed .*code=5", 30)
            stays_true(
                lambda: board.returncode is None,
                FAULT_S / SPEED,
                "the board keeps running (in fail mode an expired watchdog ends it)",
            )
            watchdog = board.status()["watchdog"]
    assert watchdog["max_gap_s"] < BUDGET_S, watchdog
