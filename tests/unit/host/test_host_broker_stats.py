"""The broker-statistics program (``render.broker_stats``) run by vrl-python: each ``$SYS`` value
becomes one named gauge, words are dropped, and the names match what queries are built from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sensor_bridge.checks.vrl_runtime import Remap, VrlAborted
from sensor_bridge.render import broker_stats

RECEIVED = "2026-01-05T10:00:00+00:00"


@pytest.fixture(scope="module")
def program() -> Any:
    return Remap(broker_stats.program())


def _run(program: Any, topic: str, payload: bytes) -> dict[str, Any] | None:
    """The event the program makes of one message, or None when it aborts."""
    try:
        event: dict[str, Any] = program.run(
            {"message": payload, "topic": topic, "timestamp": RECEIVED}
        )
    except VrlAborted:
        return None
    return event


@pytest.mark.parametrize("example", broker_stats.EXAMPLES, ids=lambda e: e.name)
def test_each_example(program: Any, example: broker_stats.Example) -> None:
    event = _run(program, example.topic, example.payload.encode())
    if example.gauge is None:
        assert event is None
        return
    assert event is not None
    name, value = example.gauge
    assert {key: event[key] for key in ("name", "kind", "gauge", "tags")} == {
        "name": name,
        "kind": "absolute",
        "gauge": {"value": value},
        "tags": {},
    }
    assert event["timestamp"] == datetime(2026, 1, 5, 10, tzinfo=UTC)


def test_python_names_match_the_program(program: Any) -> None:
    """Dashboards name the gauges with metric_name(): the same rule as the VRL."""
    for example in broker_stats.EXAMPLES:
        if example.gauge is not None:
            unit = example.payload.split()[1] if " " in example.payload else ""
            assert broker_stats.metric_name(example.topic, unit) == example.gauge[0]


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("$SYS/broker/uptime", b"seconds"),
        ("$SYS/broker/timestamp", b"Mon, 05 Jan 2026 10:00:00 +0000"),
        ("$SYS/broker/clients/connected", b"3 4"),
        ("$SYS/broker/clients/connected", b""),
        ("$SYS/broker/clients/connected", b"\xff\xfe"),
        ("furnace/studio-1/furnace-1/telemetry", b"3"),
    ],
)
def test_what_is_not_a_broker_number_is_dropped(program: Any, topic: str, payload: bytes) -> None:
    assert _run(program, topic, payload) is None


def test_odd_levels_become_name_characters(program: Any) -> None:
    event = _run(program, "$SYS/broker/load/bytes/sent/1min", b"  -2.50  ")
    assert event is not None
    assert (event["name"], event["gauge"]["value"]) == (
        "mosquitto_broker_load_bytes_sent_1min",
        -2.5,
    )
    event = _run(program, "$SYS/broker/a.b-c/d e", b"7")
    assert event is not None and event["name"] == "mosquitto_broker_a_b_c_d_e"
