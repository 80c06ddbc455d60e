"""Store and forward: a broker outage of a simulated hour loses nothing."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from tests.support.node import PICO_W, make_drive, readings, topic
from tests.support.recorder import Recorder
from tests.support.waiting import wait_until

PERIOD_S = 5


def _wait_until_uptime(board: VirtualBoardProcess, uptime_s: float, timeout: float) -> None:
    wait_until(lambda: board.status()["uptime_s"] >= uptime_s, timeout, f"uptime {uptime_s} s")


def _sample(reading: dict[str, Any]) -> dict[str, Any]:
    """A reading without its envelope (which says when it was sent, not taken)."""
    return {k: v for k, v in reading.items() if k != "sent_up_ms"}


def test_an_hour_offline_arrives_on_backfill_once_in_order_at_sample_time(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder
) -> None:
    drive = make_drive(tmp_path / "drive", PICO_W, broker.port, SAMPLE_PERIOD_S=PERIOD_S)
    with VirtualBoardProcess(drive, speed=10) as board:
        recorder.wait_for(lambda m: m.topic == topic("telemetry"), 30)
        board.control.send({"cmd": "speed", "value": 60})
        broker.stop()
        outage_start = board.status()["uptime_s"]
        _wait_until_uptime(board, outage_start + 3600, timeout=120)
        board.control.send({"cmd": "speed", "value": 10})
        broker.start()
        board.wait_for(r" INFO backfill_done ", 90)
        recorder.wait_for(lambda m: m.topic == topic("telemetry"), 30, after=len(recorder.messages))
        status = board.status()
        lines = list(board.lines)
        board.stop()

    live = readings(recorder, "telemetry")
    backfill = readings(recorder, "backfill")
    by_seq: dict[int, list[dict[str, Any]]] = {}
    for _, reading in live + backfill:
        by_seq.setdefault(reading["seq"], []).append(reading)
    seqs = sorted(by_seq)
    # Every reading, by sequence number, from the first to the last: no gap.
    assert seqs == list(range(seqs[0], seqs[-1] + 1))
    # QoS 1 is at-least-once: the one reading in flight when the broker went down may come
    # again (its PUBACK was lost), identical, so storage keeps it once. Nothing else repeats.
    repeated = [copies for copies in by_seq.values() if len(copies) > 1]
    assert len(repeated) <= 1, [copies[0]["seq"] for copies in repeated]
    for copies in repeated:
        assert all(_sample(c) == _sample(copies[0]) for c in copies)
    assert len(backfill) >= 3600 // PERIOD_S - 2
    backfill_seqs = [r["seq"] for _, r in backfill]
    assert backfill_seqs == sorted(backfill_seqs)
    # Each reading keeps its own sample time: the device's clock, one period apart, give or
    # take its corrections: a resync moves the clock by its step_ms (at speed 60 under load the
    # emulated clock drifts from the NTP server's), and readings stamped on either side of it
    # show that step once.
    corrections = [
        abs(int(found[1])) for line in lines if (found := re.search(r" step_ms=(-?\d+)", line))
    ]
    times = [by_seq[seq][0]["t"] for seq in seqs]
    assert all(t is not None for t in times)
    steps = [b - a for a, b in itertools.pairwise(times)]
    off = [step for step in steps if abs(step - PERIOD_S * 1000) > 600]
    assert len(off) <= len(corrections), (off, corrections)
    assert all(abs(step - PERIOD_S * 1000) <= 600 + max(corrections, default=0) for step in off)
    assert status["watchdog"]["max_gap_s"] < status["watchdog"]["timeout"]


def test_readings_wait_for_the_clock_and_go_out_at_their_true_time(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder
) -> None:
    """The host refuses a reading without a time: the board holds what it takes before its
    first NTP sync and stamps each from its uptime once the clock is set."""
    drive = make_drive(tmp_path / "drive", PICO_W, broker.port, SAMPLE_PERIOD_S=1)
    with VirtualBoardProcess(drive, speed=1, extra_args=["--no-ntp"]) as board:
        board.wait_for(r" WARN ntp_failed ", 30)
        wait_until(lambda: board.status()["uptime_s"] >= 10, 30, "ten readings held")
        assert readings(recorder, "telemetry") == readings(recorder, "backfill") == []
        board.control.send({"cmd": "ntp", "enabled": True})
        board.wait_for(r" INFO ntp_synced ", 90)
        recorder.wait_for(lambda m: m.topic == topic("telemetry"), 30)
        status = board.status()
    boot_wall_ms = (status["wall_s"] - status["uptime_s"]) * 1000
    sent = readings(recorder, "backfill") + readings(recorder, "telemetry")
    assert len(sent) >= 10
    assert [reading["seq"] for _, reading in sent][:10] == list(range(10))
    for _, reading in sent:
        assert abs(reading["t"] - (boot_wall_ms + reading["up_ms"])) <= 1000
