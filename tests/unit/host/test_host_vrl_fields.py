"""The decode program follows the contract's field table: every field reaches it, and a field
a new minor adds to the contract is optional, checked when present and turned into its metric,
without touching the generator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sensor_bridge.checks.vrl_runtime import Remap
from sensor_bridge.render.examples import RECEIVED, epoch_ms, topic
from sensor_bridge.render.vrl import READINGS, decode_program, vrl_string
from sensor_protocol import SCHEMA_MINOR, SCHEMA_VERSION, fields, topics
from tests.support.decode import example_site

TABLES = {
    "envelope": fields.ENVELOPE_FIELDS,
    "reading": fields.READING_FIELDS,
    "health": fields.HEALTH_FIELDS,
    "status": fields.STATUS_FIELDS,
}


@pytest.mark.parametrize("table", TABLES.values(), ids=TABLES.keys())
def test_every_field_and_metric_of_the_table_is_in_the_program(table: Any) -> None:
    program = decode_program(example_site())
    for entry in table:
        assert vrl_string(entry.key) in program, entry.key
        if entry.metric is not None:
            assert vrl_string(entry.metric) in program, entry.metric
    for name, _ in fields.FAULT_BITS:
        assert vrl_string(name) in program
    for name in fields.CONTRACT_METRICS:
        assert vrl_string(name) in program


NEXT = SCHEMA_MINOR + 1
NEW_READING = fields.Field(
    "humidity_pct", "float", "percent", 0.0, 100.0, 1, False, NEXT, "humidity_percent", "gauge", ""
)
NEW_HEALTH = fields.Field(
    "brownouts", "int", "", 0, 1000, None, False, NEXT, "device_brownouts_total", "counter", ""
)
NEW_STATUS = fields.Field("site_note", "str", "", 1, 10, None, True, NEXT, None, None, "")


@pytest.fixture(scope="module")
def extended() -> Any:
    """The decode program rendered from a contract with one more field in three tables."""
    with pytest.MonkeyPatch.context() as patch:
        readings = fields.READING_FIELDS
        patch.setattr(fields, "READING_FIELDS", (*readings[:-1], NEW_READING, readings[-1]))
        patch.setattr(fields, "HEALTH_FIELDS", (*fields.HEALTH_FIELDS, NEW_HEALTH))
        patch.setattr(fields, "STATUS_FIELDS", (*fields.STATUS_FIELDS, NEW_STATUS))
        return Remap(decode_program(example_site()))


def _sample(entry: Any) -> Any:
    """The top of a field's range (a string of the longest length)."""
    if entry.type == "str":
        return "x" * entry.hi
    return True if entry.type == "bool" else entry.hi


def _run(program: Any, channel: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    where = topic(example_site(), example_site().devices[0].id, channel)
    event = {
        "message": json.dumps(body).encode(),
        "topic": where,
        "timestamp": RECEIVED,
    }
    events: list[dict[str, Any]] = program.run(event)
    return events


def _envelope() -> dict[str, Any]:
    return {"v": SCHEMA_VERSION, "minor": NEXT, "boot": 1, "sent_up_ms": 1000}


def test_a_new_reading_field_is_optional_and_becomes_its_metric(extended: Any) -> None:
    reading = {e.key: _sample(e) for e in fields.READING_FIELDS}
    reading.update(up_ms=1000, t=epoch_ms(RECEIVED))
    events = _run(
        extended, topics.TELEMETRY, {**_envelope(), READINGS: [{**reading, NEW_READING.key: 55.5}]}
    )
    (humidity,) = [e for e in events if e["name"] == NEW_READING.metric]
    assert humidity["gauge"] == {"value": 55.5}
    older = _run(extended, topics.TELEMETRY, {**_envelope(), "minor": 0, READINGS: [reading]})
    assert len(older) == len(events) - 1
    assert NEW_READING.metric not in {e["name"] for e in older}
    (letter,) = _run(
        extended, topics.TELEMETRY, {**_envelope(), READINGS: [{**reading, NEW_READING.key: 101}]}
    )
    assert letter["reason"] == f"field:{READINGS}[0].{NEW_READING.key}:out_of_range"


def test_a_new_health_field_is_optional_and_becomes_its_counter(extended: Any) -> None:
    health = {**_envelope(), **{e.key: _sample(e) for e in fields.HEALTH_FIELDS}}
    events = _run(extended, topics.HEALTH, {**health, NEW_HEALTH.key: 3})
    (brownouts,) = [e for e in events if e["name"] == NEW_HEALTH.metric]
    assert brownouts["counter"] == {"value": 3.0}
    older = _run(extended, topics.HEALTH, health)
    assert [e["name"] for e in older] == [e["name"] for e in events if e is not brownouts]


def test_a_new_status_field_is_checked(extended: Any) -> None:
    status = {e.key: _sample(e) for e in fields.STATUS_FIELDS}
    status.update(v=SCHEMA_VERSION, minor=NEXT, boot=1, state=fields.STATUS_STATES[0])
    online, _unexpected_reset = _run(extended, topics.STATUS, {**status, NEW_STATUS.key: None})
    assert online["gauge"] == {"value": 1.0}
    (letter,) = _run(extended, topics.STATUS, {**status, NEW_STATUS.key: "x" * 11})
    assert letter["reason"] == f"field:{NEW_STATUS.key}:out_of_range"
