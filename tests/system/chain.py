"""The whole chain for system tests: a test site whose devices are virtual boards, the local
stack it renders, and the readings counted on both ends by device and sequence number.

What the boards published is what a second subscriber on the broker heard (the pipeline's
user, its own persistent session); what was stored is VictoriaMetrics' export of the
sequence-number series, one sample per reading at the reading's sample time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.alerting import durations, promql, rules
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.furnaces import virtual_furnace
from sensor_bridge.local.stack import LocalStack
from sensor_bridge.mqtt_accounts import OBSERVER_USER, password
from sensor_bridge.render import RenderContext
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_protocol.payloads import decode_readings
from sensor_protocol.topics import BACKFILL, TELEMETRY
from tests.support.recorder import Recorder
from tests.support.waiting import wait_until

BOARD = "raspberry_pi_pico_w"
SAMPLE_PERIOD_S = 1
DELIVERY_TIMEOUT_S = 30.0


def system_context(directory: Path, device_ids: Iterable[str]) -> RenderContext:
    """The example site with ``device_ids`` as its devices (each a Pico W with the example's
    first device's thresholds), each with its own MQTT password."""
    context = example_context(directory)
    model = context.site.devices[0]
    devices = [model.model_copy(update={"id": i, "name": i, "board": BOARD}) for i in device_ids]
    passwords = {d.id: f"system-test-{d.id}" for d in devices}
    mqtt = context.secrets.mqtt.model_copy(update={"devices": passwords})
    return RenderContext(
        context.site.model_copy(update={"devices": devices}),
        context.secrets.model_copy(update={"mqtt": mqtt}),
    )


def announce_pipeline(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    """Which pipeline moved the data, in the test output (as the host pipeline tests say)."""
    with capsys.disabled():
        print(f"\n[pipeline: {stack.pipeline_kind}]", end=" ")


def board(
    stack: LocalStack,
    device_id: str,
    workdir: Path,
    *,
    speed: float = 1.0,
    epoch: float | None = None,
    scenario: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> VirtualBoardProcess:
    """``device_id``'s virtual board on the stack's broker (not started): settings.toml as
    ``local.furnaces`` writes it, sampling every ``SAMPLE_PERIOD_S``, with ``settings``."""
    return virtual_furnace(
        stack.site,
        stack.context.secrets,
        stack.site.device(device_id),
        stack.board_port,
        workdir,
        speed=speed,
        epoch=epoch,
        scenario=scenario,
        overrides={"SAMPLE_PERIOD_S": SAMPLE_PERIOD_S, **settings},
    )


def recorder(stack: LocalStack) -> Recorder:
    """A subscriber to every device topic, as the observer account (one at a time: the broker
    takes the username as the client id), with a persistent session of its own: what arrives
    while a broker restart reconnects it is queued, not lost."""
    site = stack.site
    return Recorder(
        stack.broker_port,
        [f"{site.topic_root}/{site.studio}/+/+"],
        client_id=OBSERVER_USER,
        username=OBSERVER_USER,
        password=password(stack.context.secrets, OBSERVER_USER),
        clean_session=False,
    )


@dataclass(frozen=True)
class Reading:
    seq: int
    at_ms: int
    """Stamped by the board's own clock."""


def published(
    rec: Recorder, device: str, channels: str = f"{TELEMETRY}|{BACKFILL}"
) -> list[Reading]:
    """Every reading ``device`` published on ``channels`` (a regex; by default telemetry and
    backfill), as heard, in order."""
    found = []
    for message in rec.on(f"/{device}/({channels})$"):
        payload = decode_readings(message.payload)
        for reading in payload["readings"]:
            found.append(Reading(reading["seq"], reading["t"]))
    return found


def stored(stack: LocalStack, device: str) -> list[tuple[int, int]]:
    """(sequence number, timestamp in ms) of every stored reading of ``device``."""
    stack.storage.flush()
    selector = f'{promql.SEQUENCE}{{studio="{stack.site.studio}",device="{device}"}}'
    return [
        (int(value), at)
        for series in stack.storage.export(selector)
        for at, value in zip(series["timestamps"], series["values"], strict=True)
    ]


def wait_stored(stack: LocalStack, device: str, count: int, timeout: float) -> None:
    """Until at least ``count`` readings of ``device`` are stored."""
    wait_until(lambda: len(stored(stack, device)) >= count, timeout, f"{count} readings stored")


def start_rules_once_seen(stack: LocalStack, devices: Iterable[str]) -> None:
    """Start vmalert once every device in ``devices`` has a reading older than vmalert's
    query time: the store's latency offset back, rounded down to the group's interval (its
    eval alignment). Before that it would find them silent ("no data")."""
    offset_ms = 1000 * (
        durations.seconds(stack.site.storage.latency_offset)
        + durations.seconds(rules.SHOP_INTERVAL)
    )

    def seen(device: str) -> bool:
        times = [at for _, at in stored(stack, device)]
        return bool(times) and min(times) < time.time() * 1000 - offset_ms - 1000

    for device in devices:
        wait_until(partial(seen, device), DELIVERY_TIMEOUT_S, f"{device}'s first readings")
    stack.start_rules()


def assert_complete(stack: LocalStack, rec: Recorder, device: str) -> int:
    """Every reading ``device`` published is stored once, at its sample time; the number of
    readings. The board numbers its readings: no gap in the published numbers means the
    recorder missed none."""
    wait_until(
        lambda: {s for s, _ in stored(stack, device)} >= {r.seq for r in published(rec, device)},
        DELIVERY_TIMEOUT_S,
        f"{device}'s readings stored",
    )
    found = stored(stack, device)
    sent = published(rec, device)
    by_seq = {r.seq: r for r in sent}
    # QoS 1 may deliver a reading twice (a PUBACK lost to a restart): the same reading.
    assert all(r == by_seq[r.seq] for r in sent)
    seqs = sorted(by_seq)
    assert seqs, f"{device} published nothing"
    assert seqs == list(range(seqs[0], seqs[-1] + 1)), f"{device}: a gap in what it published"
    copies = Counter(seq for seq, _ in found)
    assert [s for s, n in copies.items() if n > 1] == [], f"{device}: stored twice"
    assert set(copies) == set(seqs), f"{device}: stored but never published"
    for seq, at in found:
        assert at == by_seq[seq].at_ms, (seq, at, by_seq[seq])
    return len(seqs)
