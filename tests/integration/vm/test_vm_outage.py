"""Store and forward, and the watchdog budget, on CircuitPython's own VM.

One real-time outage per board (the VM runs at speed 1 only), made of the three network
faults in turn: the network black-holes (the open connection's reads time out, then
connects), the broker refuses (a reset: ECONNRESET on both ports), the network is down (no
route). Every reading taken in it must arrive once, on the backfill topic, in order, at its
sample time; no fault may let a loop iteration outlast the watchdog, and the board must
never reset. The CPython engine proves the same at ten times the speed over longer outages
(tests/integration/node/test_node_outage.py, test_node_watchdog.py); this proves it with the
VM's own imports, heap, errno values and MiniMQTT over real TCP.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_node.thermocouple import conversion_ms
from tests.integration.vm.vm_node import vm_board, vm_drive
from tests.support.node import FEATHER_S3, PICO_W, readings, topic
from tests.support.recorder import Recorder

PERIOD_S = 1
FAULTS = (("blackhole", 12.0), ("refuse", 5.0), ("down", 7.0))
"""Each network fault in turn and how long it lasts (s): 24 s offline in all."""
MIN_STEP_MS = conversion_ms(4, 60)
"""No two samples closer than one conversion at the default settings (4 samples averaged,
60 Hz): the node starts a sample only once the last conversion is done. A sample due while a
blocking call runs (a connect into the black hole takes its 1 s socket timeout) is taken when
the call returns, and the next keeps the period's grid (``sensor_node.timing.Deadline``), so
the step after a late sample is short; readings bunched at the time they were sent would be
0 ms apart."""


def _sample(reading: dict[str, Any]) -> dict[str, Any]:
    """A reading without its envelope (which says when it was sent, not taken)."""
    return {k: v for k, v in reading.items() if k != "sent_up_ms"}


@pytest.mark.parametrize("board_id", [PICO_W, FEATHER_S3], ids=["pico_w", "feather_s3"])
def test_faults_lose_no_reading_and_never_trip_the_watchdog(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder, board_id: str
) -> None:
    # The board's own free heap at the start of code.py (the Pico W's 126,112 bytes).
    drive = vm_drive(tmp_path / "drive", board_id, broker.port, SAMPLE_PERIOD_S=PERIOD_S)
    watchdog_after: dict[str, dict[str, Any]] = {}
    with vm_board(drive, board_id) as board:
        board.wait_for(r" INFO birth_published ", 60)
        recorder.wait_for(lambda m: m.topic == topic("telemetry"), 30)
        start = board.mark()
        went_ms = round(time.time() * 1000)
        for state, seconds in FAULTS:
            board.control.send({"cmd": "net", "state": state})
            time.sleep(seconds)
            watchdog_after[state] = board.status()["watchdog"]
        back = board.mark()
        back_ms = round(time.time() * 1000)
        board.control.send({"cmd": "net", "state": "up"})
        board.wait_for(r" INFO backfill_done ", 60, since=back)
        recorder.wait_for(lambda m: m.topic == topic("telemetry"), 30, after=len(recorder.messages))
        console = board.lines[start:]
        assert board.returncode is None

    # The watchdog: no iteration under any fault came near its timeout, and nothing reset.
    for state, watchdog in watchdog_after.items():
        assert watchdog["mode"] == "RESET", (state, watchdog)
        assert watchdog["max_gap_s"] < watchdog["timeout"], (state, watchdog)
    assert not [line for line in console if " INFO boot " in line], console

    live = readings(recorder, "telemetry")
    backfill = readings(recorder, "backfill")
    assert len({reading["boot"] for _, reading in live + backfill}) == 1
    by_seq: dict[int, list[dict[str, Any]]] = {}
    for _, reading in live + backfill:
        by_seq.setdefault(reading["seq"], []).append(reading)
    seqs = sorted(by_seq)
    # Every reading, by sequence number, from the first to the last: no gap.
    assert seqs == list(range(seqs[0], seqs[-1] + 1))
    # QoS 1 is at-least-once: the one reading in flight when the link went may come again
    # (its PUBACK was lost), identical. Nothing else repeats.
    repeated = [copies for copies in by_seq.values() if len(copies) > 1]
    assert len(repeated) <= 1, [copies[0]["seq"] for copies in repeated]
    for copies in repeated:
        assert all(_sample(c) == _sample(copies[0]) for c in copies)
    # What was taken offline comes on the backfill topic, oldest first.
    offline_s = sum(seconds for _, seconds in FAULTS)
    assert len(backfill) >= offline_s // PERIOD_S - 2, len(backfill)
    backfill_seqs = [r["seq"] for _, r in backfill]
    assert backfill_seqs == sorted(backfill_seqs)
    # Each reading lands at the time it was taken, however late it was sent: at most the
    # watchdog's timeout after the one before (an iteration that waits on Wi-Fi delays the
    # next sample), at least one conversion, never bunched at the time it was sent.
    times = {reading["seq"]: reading["t"] for _, reading in live + backfill}
    budget_ms = watchdog_after["down"]["timeout"] * 1000
    off_period = [
        (b, times[b] - times[a])
        for a, b in itertools.pairwise(seqs)
        if not MIN_STEP_MS <= times[b] - times[a] <= budget_ms
    ]
    assert not off_period, off_period
    # The ones taken offline came on the backfill topic.
    offline = [seq for seq in seqs if went_ms <= times[seq] <= back_ms]
    assert len(offline) >= (offline_s - budget_ms / 1000) // PERIOD_S, (len(offline), offline_s)
    assert set(offline) <= set(backfill_seqs), sorted(set(offline) - set(backfill_seqs))
