"""The pipeline end to end: a device publishes the contract's examples to the real Mosquitto
(rendered config), the pipeline (Vector when installed, else the test forwarder running the
rendered VRL) moves them, and the real VictoriaMetrics (rendered flags) holds exactly the
contract's metrics; the rest are counted dead letters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.local.broker import RenderedMosquitto
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.pipeline import Forwarder, VectorPipeline, start_pipeline
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.render import RenderContext, mosquitto, victoriametrics, vrl
from sensor_bridge.render import examples as contract
from sensor_bridge.render.examples import epoch_ms
from sensor_bridge.render.vrl import DEAD_LETTER_METRIC
from sensor_bridge.tree import write_tree
from sensor_protocol import fields, payloads, topics
from sensor_protocol.fields import METRIC_NAMESPACE
from tests.support.recorder import DevicePublisher
from tests.support.waiting import wait_until

TIMEOUT_S = 20.0
DEAD_LETTERS = f"{METRIC_NAMESPACE}_{DEAD_LETTER_METRIC}"


@dataclass
class Rig:
    context: RenderContext
    broker: RenderedMosquitto
    store: VictoriaMetrics
    pipeline: VectorPipeline | Forwarder


@pytest.fixture
def rig(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Rig]:
    context = example_context(tmp_path / "site")
    files = mosquitto.render(context)
    write_tree(tmp_path / "tree", files)
    conf = next(f for f in files if f.check == "mosquitto")
    (unit,) = victoriametrics.render(context)
    for name in ("broker", "vm", "pipeline"):
        (tmp_path / name).mkdir()
    with (
        RenderedMosquitto(tmp_path / "broker", tmp_path / "tree", conf) as broker,
        VictoriaMetrics(tmp_path / "vm", unit.text) as store,
        start_pipeline(
            context, broker_port=broker.port, vm_url=store.url, workdir=tmp_path / "pipeline"
        ) as pipeline,
    ):
        with capsys.disabled():
            print(f"\n[pipeline: {pipeline.pipeline_kind}]", end=" ")
        yield Rig(context, broker, store, pipeline)


def _device(rig: Rig, device: str) -> DevicePublisher:
    password = rig.context.secrets.device_password(device)
    return DevicePublisher(rig.broker.port, device, password, TIMEOUT_S)


def _samples(store: VictoriaMetrics) -> set[tuple[str, frozenset[tuple[str, str]], int, float]]:
    store.flush()
    found = set()
    for series in store.export(f'{{__name__=~"{METRIC_NAMESPACE}_.*"}}'):
        labels = dict(series["metric"])
        name = labels.pop("__name__")
        for at, value in zip(series["timestamps"], series["values"], strict=True):
            found.add((name, frozenset(labels.items()), at, value))
    return found


def _wait(check: Callable[[], bool]) -> None:
    wait_until(check, TIMEOUT_S, "the pipeline delivered")


def _stored(event: dict[str, Any]) -> tuple[str, frozenset[tuple[str, str]], int, float]:
    value = (event.get("gauge") or event["counter"])["value"]
    name = f"{METRIC_NAMESPACE}_{event['name']}"
    return (name, frozenset(event["tags"].items()), epoch_ms(event["timestamp"]), value)


def _latest(store: VictoriaMetrics, name: str) -> dict[str, float]:
    store.flush()
    return {s["metric"]["reason"]: s["values"][-1] for s in store.export(name)}


def test_contract_examples_reach_victoriametrics_as_the_contract_says(rig: Rig) -> None:
    site = rig.context.site
    device = _device(rig, site.devices[0].id)
    # No device login may publish on another device's or another channel's topic: the broker
    # drops those two (test_host_mosquitto.py), the decode's dead letters stay for defence.
    # Built for now: a reading's clock must be near its arrival.
    examples = [
        e
        for e in contract.examples(site, datetime.now(UTC))
        if e.reason not in ("unknown_device", "bad_topic")
    ]
    # Online and offline are stamped on arrival: in one burst they could share a millisecond,
    # which VictoriaMetrics' deduplication keeps as one sample. The last will goes alone, last.
    (offline,) = [e for e in examples if e.name == "status offline"]
    sent = datetime.now(UTC)
    try:
        for example in examples:
            if example is not offline:
                device.publish(example.topic, example.payload)
        reasons = Counter(e.reason for e in examples if e.reason)
        _wait(lambda: _latest(rig.store, DEAD_LETTERS) == dict(reasons))
        device.publish(offline.topic, offline.payload)
        gone = {(n, v) for n, _, _, v in map(_stored, offline.events)}
        _wait(lambda: gone <= {(n, v) for n, _, _, v in _samples(rig.store)})
    finally:
        device.close()
    arrived = datetime.now(UTC)

    stored = _samples(rig.store)
    for example in examples:
        if example.reason is not None:
            continue
        # What the contract says for the earliest and the latest possible arrival: a sample
        # stamped by its own clock is the same in both, one stamped by arrival lies between.
        early = contract.expected_events(site, example.topic, example.payload, sent)
        late = contract.expected_events(site, example.topic, example.payload, arrived)
        for first, last in zip(early, late, strict=True):
            name, labels, at_first, value = _stored(first)
            at_last = _stored(last)[2]
            assert any(
                (n, lbl, v) == (name, labels, value) and at_first <= t <= at_last
                for n, lbl, t, v in stored
            ), first
    assert len(rig.pipeline.dead_letters) == sum(reasons.values())


def test_a_broker_restart_keeps_the_pipelines_subscription(rig: Rig) -> None:
    """The pipeline never re-subscribes: its persistent session on the broker carries it."""
    site = rig.context.site
    (clocked,) = [e for e in contract.examples(site, datetime.now(UTC)) if e.name == "telemetry"]
    rig.broker.restart()
    device = _device(rig, site.devices[0].id)
    try:
        device.publish(clocked.topic, clocked.payload)
    finally:
        device.close()
    expected = {_stored(event) for event in clocked.events}
    _wait(lambda: expected <= _samples(rig.store))


def test_another_channel_name_never_reaches_the_pipeline_a_bad_payload_is_counted(
    rig: Rig,
) -> None:
    """The device's ACL lists its four channels: ``config`` stops at the broker. The broker
    handles one client's messages in order, so once the bad payload is counted the others
    would have been too."""
    site = rig.context.site
    device = _device(rig, site.devices[0].id)
    where = contract.topic(site, site.devices[0].id, "config")
    try:
        for _ in range(3):
            device.publish(where, b"{}")
        device.publish(contract.topic(site, site.devices[0].id, topics.HEALTH), b"\xff")
    finally:
        device.close()
    _wait(lambda: _latest(rig.store, DEAD_LETTERS) == {"not_utf8": 1.0})
    assert [letter["reason"] for letter in rig.pipeline.dead_letters] == ["not_utf8"]
    assert rig.store.export(DEAD_LETTERS)[0]["metric"]["studio"] == site.studio


def test_a_reading_is_stored_only_near_its_arrival(rig: Rig) -> None:
    """A clock three days ahead (which VictoriaMetrics would drop without a word, as
    big_timestamp) and one claiming to have been sent longer ago than the broker may queue are
    dead letters with their reasons; an hour of backfill held on the board, and a reading the
    broker held for half an hour, are stored at their own times."""
    site = rig.context.site
    where = contract.topic(site, site.devices[0].id, topics.BACKFILL)
    now_ms = epoch_ms(datetime.now(UTC))
    hour_ms, sent_up_ms = 3_600_000, 10 * 3_600_000
    max_delay_ms = vrl.max_delay_ms(site)

    def batch(seq: int, held_ms: int, sent_ago_ms: int) -> bytes:
        """One reading taken ``held_ms`` before sending, sent ``sent_ago_ms`` before now."""
        up_ms = sent_up_ms - held_ms
        t = now_ms - sent_ago_ms - held_ms
        row = (seq, up_ms, t, 1000.0 + seq, 25.0, 3.0, 0)
        return payloads.encode_readings(1, sent_up_ms, [row])[0].encode()

    device = _device(rig, site.devices[0].id)
    try:
        device.publish(where, batch(1, 0, -3 * 24 * hour_ms))
        device.publish(where, batch(2, 0, max_delay_ms + hour_ms))
        device.publish(where, batch(3, hour_ms, 0))
        device.publish(where, batch(4, 0, hour_ms // 2))
    finally:
        device.close()
    _wait(
        lambda: (
            _latest(rig.store, DEAD_LETTERS)
            == {
                f"field:{vrl.READINGS}[0].t:{payloads.IN_FUTURE}": 1.0,
                f"field:{vrl.READINGS}[0].t:{payloads.TOO_OLD}": 1.0,
            }
        )
    )
    temp = f"{METRIC_NAMESPACE}_{fields.field_by_key('temp_c').metric}"
    _wait(lambda: len(rig.store.export(temp)) == 1)
    (series,) = rig.store.export(temp)
    stored = dict(zip(series["timestamps"], series["values"], strict=True))
    assert stored == {now_ms - hour_ms: 1003.0, now_ms - hour_ms // 2: 1004.0}
