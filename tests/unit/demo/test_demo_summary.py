"""An alert's life as the demo records it, and the summary made of it."""

from __future__ import annotations

import time
from typing import Any

from sensor_bridge.demo.alert_log import AlertLog
from sensor_bridge.demo.scenarios import Step
from sensor_bridge.demo.summary import RunRecord, StepDone, summary_lines
from sensor_bridge.local.receiver import Notified

FLAME_OUT_LABELS = {
    "alertname": "FlameOut",
    "device": "glory-hole",
    "type": "shop",
    "studio": "studio-1",
}


def _listed(state: str) -> list[dict[str, Any]]:
    return [{"name": "FlameOut", "state": state, "labels": FLAME_OUT_LABELS}]


def _notified(status: str, labels: dict[str, str] = FLAME_OUT_LABELS) -> Notified:
    return Notified("owner", time.monotonic(), status, labels)


def test_an_alert_from_pending_to_all_clear() -> None:
    log = AlertLog()
    notified: list[Notified] = []
    assert log.update(_listed("pending"), notified) == ["FlameOut glory-hole pending"]
    assert log.update(_listed("firing"), notified) == [
        "FlameOut glory-hole FIRING (shop, pages owner)"
    ]
    notified.append(_notified("firing"))
    assert log.update(_listed("firing"), notified) == ["FlameOut glory-hole paged owner"]
    assert log.update([], notified) == ["FlameOut glory-hole resolved in vmalert"]
    notified.append(_notified("resolved"))
    assert log.update([], notified) == ["FlameOut glory-hole all-clear sent to owner"]
    (record,) = log.records
    assert record.state == "resolved"
    assert record.pending_at and record.firing_at and record.paged_at and record.all_clear_at
    assert record.pending_at <= record.firing_at <= record.paged_at


def test_the_heartbeat_is_counted_not_listed() -> None:
    log = AlertLog()
    beat = _notified("firing", {"alertname": "Heartbeat", "type": "system"})
    heartbeat = [{"name": "Heartbeat", "state": "firing", "labels": beat.labels}]
    assert log.update(heartbeat, [beat]) == ["heartbeat reaches heartbeat"]
    assert log.update(heartbeat, [beat, beat]) == []
    assert log.heartbeats == 2
    assert log.records == []


def test_summary_compares_published_with_stored_and_times_the_page() -> None:
    log = AlertLog()
    start = time.time()
    log.update(_listed("firing"), [])
    log.update(_listed("firing"), [_notified("firing")])
    record = RunRecord("story", "C", pipeline="forwarder", started_at=start - 60, ended_at=start)
    record.steps = [
        StepDone(start - 20, Step(5, "flame-out", "glory-hole")),
        StepDone(start - 10, Step(9, "broker-restart")),
    ]
    record.published = {"furnace-1": 60, "glory-hole": 61}
    record.stored = {"furnace-1": 60, "glory-hole": 59}
    record.alerts = log.records
    lines = summary_lines(record)
    assert lines[0] == (
        "summary: scenario 'story' completed after 60 s; pipeline: forwarder (Vector not installed)"
    )
    assert lines[1] == "readings furnace-1: published 60, stored 60 (all stored)"
    assert lines[2] == "readings glory-hole: published 61, stored 59 (+2 missing)"
    assert lines[3].startswith(
        "alert FlameOut glory-hole (shop → owner); paged 20.0 s after 'glory-hole: flame out'; "
        "vmalert firing → receiver 0.0 s"
    )
    assert lines[-1] == "heartbeat: 0 sent to IRM's heartbeat URL"
