"""The broker's statistics end to end, as far as this machine has the parts: a real Mosquitto on
the rendered conf publishes its ``$SYS`` tree to a subscriber that logs in and subscribes as the
rendered Vector source does; the rendered remap program (vrl-python) turns every message into a
gauge or drops it. The Vector checker runs the rendered broker-statistics tests and catches a
wrong one. (No vector binary here: the exporter and log_to_metric are left to ``vector test`` on
the Pi.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sensor_bridge import mqtt_accounts
from sensor_bridge.checks import FAILED
from sensor_bridge.checks import vector as check_vector
from sensor_bridge.checks.vrl_runtime import Remap, VrlAborted
from sensor_bridge.local.broker import RenderedMosquitto
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext, broker_stats, mosquitto, vector
from sensor_bridge.tree import write_tree
from tests.support.recorder import Message, Recorder
from tests.support.trees import replaced

CONNECTED = "$SYS/broker/clients/connected"
UPTIME = "$SYS/broker/uptime"
# The broker publishes its tree at start (retained, before anyone connects), then every
# sys_interval what changed: the first live update is at most one interval and a second away.
LIVE_TIMEOUT_S = mosquitto.SYS_INTERVAL_S + 5
BATCH_S = 2.0
"""One update's messages arrive together, within milliseconds."""


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path / "site")


@pytest.fixture
def rendered(context: RenderContext) -> dict[str, Any]:
    """vector.yaml as Vector reads it ($$ unescaped)."""
    (config,) = [f for f in vector.render(context) if f.path.name == "vector.yaml"]
    return check_vector.load(config.text)


def _periodic_uptime(message: Message) -> bool:
    """The uptime of an update one interval after the start (the start's may reach us live)."""
    number = _number(message.text) if message.topic == UPTIME and not message.retain else None
    return number is not None and number[0] >= mosquitto.SYS_INTERVAL_S


def _gauges(program: Any, messages: list[Message]) -> tuple[list[dict[str, Any]], list[Message]]:
    """The events the program makes of ``messages``, and the messages it dropped."""
    events, dropped = [], []
    for message in messages:
        try:
            events.append(program.run({"message": message.payload, "topic": message.topic}))
        except VrlAborted:
            dropped.append(message)
    return events, dropped


def _number(text: str) -> tuple[float, str] | None:
    """The value and unit of a $SYS text, read independently of the VRL."""
    words = text.split()
    try:
        value = float(words[0])
    except (IndexError, ValueError):
        return None
    return (value, words[1]) if len(words) == 2 else (value, "") if len(words) == 1 else None


@pytest.mark.slow
def test_real_sys_messages_become_gauges(
    tmp_path: Path, context: RenderContext, rendered: dict[str, Any]
) -> None:
    files = mosquitto.render(context)
    write_tree(tmp_path / "tree", files)
    (conf,) = [f for f in files if f.check == "mosquitto"]
    (tmp_path / "broker").mkdir()
    source = rendered["sources"][broker_stats.SOURCE]
    program = Remap(rendered["transforms"][broker_stats.TRANSFORM]["source"])
    with RenderedMosquitto(tmp_path / "broker", tmp_path / "tree", conf) as broker:
        subscriber = Recorder(
            broker.port,
            [source["topic"]],
            client_id=source["client_id"],
            username=source["user"],
            password=mqtt_accounts.password(context.secrets, source["user"]),
            clean_session=False,
        )
        with subscriber:
            # The first periodic update after this subscriber connected counts it.
            subscriber.wait_for(_periodic_uptime, LIVE_TIMEOUT_S)
            subscriber.wait_for(lambda m: m.topic == CONNECTED and not m.retain, BATCH_S)
            messages = list(subscriber.messages)

    assert source["topic"] == "$SYS/broker/#"
    events, dropped = _gauges(program, messages)
    assert "$SYS/broker/version" in {m.topic for m in dropped}
    assert all(_number(m.text) is None for m in dropped), dropped
    numbers = [(m, _number(m.text)) for m in messages if m not in dropped]
    assert all(number is not None for _, number in numbers)
    assert [(e["name"], e["kind"], e["gauge"]["value"]) for e in events] == [
        (broker_stats.metric_name(m.topic, number[1]), "absolute", number[0])
        for m, number in numbers
        if number is not None
    ]
    latest = {e["name"]: e["gauge"]["value"] for e in events}
    assert latest["mosquitto_broker_clients_connected"] >= 1
    assert latest["mosquitto_broker_uptime_seconds"] >= mosquitto.SYS_INTERVAL_S
    assert "mosquitto_broker_publish_messages_dropped" in latest
    assert len(latest) >= 40, sorted(latest)


def test_checker_catches_wrong_broker_stats(context: RenderContext) -> None:
    """A wrong expectation, and a program that keeps the version string (it would become a
    metric): both reported by name, and nothing else (the contract's cases still pass)."""
    files = vector.render(context)
    wrong = replaced(files, "tests.yaml", ".gauge.value == 1234.0", ".gauge.value == 1.0")
    keeps_words = replaced(wrong, "vector.yaml", "  abort\n", '  number = "0"\n')
    by_name = {f.path.name: f for f in keeps_words}
    row = check_vector.check_vrl(by_name["vector.yaml"], by_name["tests.yaml"])
    assert row.result == FAILED
    assert [line.split(":", 2)[:2] for line in row.detail.splitlines()] == [
        ["broker stats", " seconds"],
        ["broker stats", " words are dropped"],
    ]
    assert "no event from decode_broker_stats satisfies" in row.detail
    assert "decode_broker_stats must stay empty" in row.detail
