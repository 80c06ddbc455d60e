"""Outage: with the broker stopped for a while the board keeps its readings, and after the
broker returns they arrive on ``backfill``, none missing."""

from __future__ import annotations

import time

import pytest

from tests.hil.bench import Bench
from tests.hil.broker_watch import readings
from tests.hil.report import Report

PERIODS_STOPPED = 6
MIN_OUTAGE_S = 10.0
COMPLETE_WITHIN_S = 60.0
"""After the broker returns: the board's reconnect backoff (capped at 30 s) and the replay."""


@pytest.mark.needs(
    "outage",
    ("broker_stop", "broker_start"),
    "the suite does not control the broker: pass --broker-stop CMD --broker-start CMD",
)
def test_readings_taken_while_the_broker_is_down_arrive_on_backfill(
    bench: Bench, report: Report
) -> None:
    options = bench.options
    assert options.broker_stop is not None and options.broker_start is not None
    outage = options.outage_s or max(PERIODS_STOPPED * bench.sample_period_s, MIN_OUTAGE_S)
    last = readings([bench.fresh_reading()], "telemetry")[-1][1]
    mark = bench.watch.mark()
    bench.run_command(options.broker_stop, "--broker-stop")
    try:
        time.sleep(outage)
    finally:
        bench.run_command(options.broker_start, "--broker-start")
    returned = time.monotonic()

    deadline = returned + COMPLETE_WITHIN_S + outage
    while True:
        messages = bench.watch.since(mark)
        live = [r for _, r in readings(messages, "telemetry") if r["boot"] == last["boot"]]
        replayed = [r for _, r in readings(messages, "backfill") if r["boot"] == last["boot"]]
        seen = {r["seq"] for r in live + replayed}
        newest = max((r["seq"] for r in live), default=last["seq"])
        missing = set(range(last["seq"] + 1, newest)) - seen
        if replayed and newest > last["seq"] + 1 and not missing:
            break
        assert time.monotonic() < deadline, (
            f"after {COMPLETE_WITHIN_S + outage:.0f} s: {len(replayed)} replayed, "
            f"missing seq {sorted(missing)[:20]}"
        )
        time.sleep(0.2)
    complete = time.monotonic() - returned

    report.measured("outage", "broker stopped", f"{outage:g} s")
    report.measured("outage", "readings replayed on backfill", len(replayed))
    report.measured("outage", "broker back to backfill complete", f"{complete:.1f} s")
    assert len(replayed) >= outage / bench.sample_period_s - 2
