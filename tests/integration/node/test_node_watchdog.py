"""No loop iteration blocks past the watchdog budget, whatever the network does.

The virtual board measures the longest gap between watchdog feeds on its own clock and, in
``fail`` mode, ends the run if the watchdog ever expires. The Pico W has the tightest budget:
8 s, the RP2040's hardware maximum. Every fault runs on the CPython engine at ten times the
speed; on CircuitPython's VM (real time, the Pico W's own heap) run the faults that
tests/integration/vm/test_vm_outage.py does not: a slow broker, broker restarts and a
rejected login.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from tests.integration.node.engines import pico_w
from tests.support.netfaults import FAULTS
from tests.support.node import DEVICE
from tests.support.waiting import stays_true

FAULT_S = {"cpython": 90.0, "vm": 20.0}
"""How long each fault lasts (virtual seconds): 9 s of wall time at the CPython engine's
speed, 20 s on the VM, which runs at 1."""
SPEED = 10
BUDGET_S = 8.0
VM_FAULTS = ("slow broker", "broker restart")
CASES = [pytest.param(fault, "cpython", id=fault) for fault in FAULTS] + [
    pytest.param(fault, "vm", id=f"{fault}-vm") for fault in VM_FAULTS
]


@pytest.mark.parametrize(("fault", "engine"), CASES)
def test_longest_iteration_stays_under_the_budget(
    tmp_path: Path, broker: Mosquitto, fault: str, engine: str
) -> None:
    board = pico_w(tmp_path, engine, broker.port, speed=SPEED, watchdog="fail", SAMPLE_PERIOD_S=1)
    with board:
        board.wait_for(r" INFO birth_published ", 60)
        mark = FAULTS[fault](board, broker, FAULT_S[engine])
        board.wait_for(r" INFO birth_published ", 60, since=mark)
        watchdog = board.status()["watchdog"]
    assert watchdog["timeout"] == BUDGET_S
    assert watchdog["max_gap_s"] < BUDGET_S, watchdog
    print(f"{fault} ({engine}): longest gap between watchdog feeds {watchdog['max_gap_s']:.3f} s")


@pytest.mark.parametrize("engine", ["cpython", "vm"])
def test_rejected_login_stays_under_the_budget(tmp_path: Path, engine: str) -> None:
    workdir = tmp_path / "broker"
    workdir.mkdir()
    with Mosquitto(workdir, users={DEVICE: "right-password"}) as broker:
        login = {"MQTT_USER": DEVICE, "MQTT_PASSWORD": "wrong"}
        board = pico_w(tmp_path, engine, broker.port, speed=SPEED, watchdog="fail", **login)
        with board:
            board.wait_for(r" WARN mqtt_connect_failed .*code=5", 60)
            speed = board.status()["speed"]
            stays_true(
                lambda: board.returncode is None,
                FAULT_S[engine] / speed,
                "the board keeps running (in fail mode an expired watchdog ends it)",
            )
            watchdog = board.status()["watchdog"]
    assert watchdog["max_gap_s"] < BUDGET_S, watchdog
