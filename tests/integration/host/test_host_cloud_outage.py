"""The furnace in Grafana Cloud: the pipeline's second sink sends every sample to a stand-in that
speaks Prometheus remote write (tests.support.cloud_standin), through a disk buffer that holds
an hour without internet and back-fills it in order; ALERTS come from VictoriaMetrics.

The rendered config runs in Vector when a binary is on PATH, else in the forwarder
(local.pipeline, whose cloud sink copies the rendered sink's disk buffer and retries), with the
real Mosquitto and VictoriaMetrics; the output says which. An hour is compressed: the device's
readings carry their sample time (one every 5 s, the firmware's default period, over the last
hour) and are published at once while nothing listens on the cloud's port; the stand-in starts
listening only once the archive holds the whole hour."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sensor_bridge.checks.process import free_port
from sensor_bridge.local.broker import RenderedMosquitto
from sensor_bridge.local.pipeline import Forwarder, VectorPipeline, start_pipeline
from sensor_bridge.local.remote_write import Series, write
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.render import RenderContext, mosquitto, victoriametrics
from sensor_bridge.render.examples import epoch_ms
from sensor_bridge.tree import write_tree
from sensor_protocol import payloads, topics
from sensor_protocol.fields import READING_KEYS
from tests.support.cloud import TOKEN, USER, cloud_context
from tests.support.cloud_standin import CloudStandIn, Sample
from tests.support.recorder import DevicePublisher
from tests.support.waiting import wait_until

HOUR_S = 3600
PERIOD_S = 5
TIMEOUT_S = 60.0


@dataclass
class Rig:
    context: RenderContext
    broker: RenderedMosquitto
    store: VictoriaMetrics
    cloud: CloudStandIn
    pipeline: VectorPipeline | Forwarder


@pytest.fixture
def rig(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Rig]:
    # The cloud's port is known but nothing listens there yet: the internet is down.
    cloud = CloudStandIn(USER, TOKEN, port=free_port())
    context = cloud_context(tmp_path / "site", url=cloud.url)
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
            context,
            broker_port=broker.port,
            vm_url=store.url,
            workdir=tmp_path / "pipeline",
            # Vector backs off up to 30 s between retries; the test waits 1 s at most.
            cloud_retry_max_s=1.0,
        ) as pipeline,
    ):
        with capsys.disabled():
            print(f"\n[pipeline: {pipeline.pipeline_kind}]", end=" ")
        try:
            yield Rig(context, broker, store, cloud, pipeline)
        finally:
            cloud.stop()


def _hour_of_readings(now_ms: int) -> list[bytes]:
    """One telemetry payload per sample period over the last hour, each sent when taken."""
    messages = []
    for index in range(HOUR_S // PERIOD_S):
        up_ms = 10_000 + index * PERIOD_S * 1000
        taken = now_ms - HOUR_S * 1000 + index * PERIOD_S * 1000
        values = {"seq": index, "up_ms": up_ms, "t": taken, "temp_c": 1100.0 + index % 7}
        values |= {"cj_c": 31.5, "flame_v": 3.5, "faults": 0}
        row = [values[key] for key in READING_KEYS]
        text, count = payloads.encode_readings(3, up_ms, [row])
        assert count == 1
        messages.append(text.encode())
    return messages


def _furnace(samples: list[Sample]) -> set[Sample]:
    return {s for s in samples if s.name.startswith("furnace_")}


def _furnace_samples(store: VictoriaMetrics) -> set[Sample]:
    store.flush()
    found = set()
    for series in store.export('{__name__=~"furnace_.*"}'):
        labels = dict(series["metric"])
        name = labels.pop("__name__")
        for at, value in zip(series["timestamps"], series["values"], strict=True):
            found.add(Sample(name, frozenset(labels.items()), at, value))
    return found


def test_an_hour_without_internet_loses_nothing_and_back_fills_in_order(rig: Rig) -> None:
    device = rig.context.site.devices[0].id
    site = rig.context.site
    topic = topics.build_topic(site.topic_root, site.studio, device, "telemetry")
    messages = _hour_of_readings(epoch_ms(datetime.now(UTC)))
    publisher = DevicePublisher(
        rig.broker.port, device, rig.context.secrets.device_password(device), TIMEOUT_S
    )
    try:
        for message in messages:
            publisher.publish(topic, message)
    finally:
        publisher.close()
    # The archive gets the hour at once; the cloud gets nothing while it is unreachable.
    per_reading = 4 + 9  # temp, cold junction, flame, sequence; one 0/1 series per fault bit
    expected = len(messages) * per_reading
    wait_until(
        lambda: len(_furnace_samples(rig.store)) == expected, TIMEOUT_S, "the archive has the hour"
    )
    archived = _furnace_samples(rig.store)
    assert rig.cloud.received() == []

    rig.cloud.start()  # the internet is back
    wait_until(
        lambda: _furnace(rig.cloud.received()) >= archived, TIMEOUT_S, "the hour in the cloud"
    )
    arrived = [s for s in rig.cloud.received() if s.name.startswith("furnace_")]
    assert set(arrived) == archived, "every furnace sample of the hour, exactly as archived"
    assert len(arrived) == len(archived), "each once"
    by_series: dict[tuple[str, frozenset[tuple[str, str]]], list[int]] = {}
    for sample in arrived:
        by_series.setdefault((sample.name, sample.labels), []).append(sample.timestamp_ms)
    assert all(stamps == sorted(stamps) for stamps in by_series.values()), "oldest first"
    first, last = min(s.timestamp_ms for s in arrived), max(s.timestamp_ms for s in arrived)
    assert last - first == HOUR_S * 1000 - PERIOD_S * 1000


def test_alerts_reach_the_cloud_from_victoriametrics(rig: Rig) -> None:
    """vmalert writes ALERTS to VictoriaMetrics; the pipeline federates them to the cloud."""
    rig.cloud.start()
    now = epoch_ms(datetime.now(UTC))
    labels = {
        "__name__": "ALERTS",
        "alertname": "FurnaceTooHot",
        "alertstate": "firing",
        "studio": rig.context.site.studio,
        "device": rig.context.site.devices[0].id,
    }
    assert write(rig.store.urls.remote_write, [Series(labels, [(now, 1.0)])]) == 204
    rig.store.flush()
    expected = Sample(
        "ALERTS", frozenset((k, v) for k, v in labels.items() if k != "__name__"), now, 1.0
    )
    wait_until(lambda: expected in rig.cloud.received(), TIMEOUT_S, "ALERTS in the cloud")
