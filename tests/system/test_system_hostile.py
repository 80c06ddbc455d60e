"""Hostile and broken input through the whole chain, and what listens where.

A device's own credentials flood the broker with 10,000 bad payloads (malformed, oversized,
wrong schema version, wrong topics) at QoS 0 and 1 while a healthy virtual board keeps
publishing: the broker drops what the ACL forbids, the pipeline counts every bad payload that
reaches it as a dead letter and keeps running, and the healthy device loses nothing. Clients
without a login or with a wrong password are refused; a device cannot write another device's
topics. Every HTTP service the stack runs listens on loopback only, as the rendered
production configuration says.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest

from sensor_bridge.alerting import promql
from sensor_bridge.checks.alertmanager import rendered_args
from sensor_bridge.local.stack import LocalStack
from sensor_bridge.render import alertmanager, mosquitto, vector, victoriametrics, vmalert
from sensor_bridge.site import Storage
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_protocol import SCHEMA_VERSION
from sensor_protocol.limits import MAX_PAYLOAD_BYTES, PIPELINE_MAX_PACKET_BYTES
from sensor_protocol.payloads import OFFLINE_PAYLOAD, encode_readings
from sensor_protocol.topics import BACKFILL, HEALTH, STATUS, TELEMETRY
from tests.support.recorder import Recorder
from tests.support.waiting import wait_until
from tests.system.chain import (
    announce_pipeline,
    assert_complete,
    board,
    recorder,
    system_context,
    wait_stored,
)
from tests.system.sockets import PROC, children, is_loopback, listeners

pytestmark = pytest.mark.slow

HEALTHY, FLOODER, VICTIM = "healthy", "flooder", "victim"
FLOOD_SIZE = 10_000
CONNECT_TIMEOUT_S = 10.0
LOOPBACK = "127.0.0.1:"
LAN_ADDRESS = "192.0.2.10"
"""A documentation address (RFC 5737), only rendered: nothing connects to it."""
DRAIN_TIMEOUT_S = 90.0
"""How long the pipeline may take to work through the flood (it prints what it took): the
forwarder does about 1,000 messages a second here, 8,000 in about 8 s; the flood is sent in
about 2 s, so the broker queues most of it for the pipeline's session, well within the site's
max_queued_messages (10,000): nothing is dropped, not even at QoS 0."""


@dataclass
class Hostile:
    stack: LocalStack
    recorder: Recorder
    healthy: VirtualBoardProcess


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp("hostile")
    context = system_context(tmp / "site", (HEALTHY, FLOODER, VICTIM))
    with contextlib.ExitStack() as running:
        stack = running.enter_context(LocalStack(context, tmp / "stack"))
        rec = running.enter_context(recorder(stack))
        healthy = running.enter_context(board(stack, HEALTHY, tmp / "boards"))
        wait_stored(stack, HEALTHY, 1, 30)
        yield Hostile(stack, rec, healthy)


def _topic(stack: LocalStack, device: str, channel: str) -> str:
    return f"{stack.site.topic_root}/{stack.site.studio}/{device}/{channel}"


def _flood(stack: LocalStack) -> tuple[list[tuple[str, bytes, int]], Counter[str]]:
    """FLOOD_SIZE bad messages as (topic, payload, qos), and the dead letters they must make
    by reason: those the ACL lets through (the flooder's own topics, one level down, as the
    pipeline subscribes)."""
    own = {c: _topic(stack, FLOODER, c) for c in (TELEMETRY, BACKFILL, HEALTH, STATUS)}
    reading, _ = encode_readings(1, 1000, [(1, 500, None, 1000.0, 25.0, 3.5, 0)])
    padding = "x" * (MAX_PAYLOAD_BYTES + 100)
    # (topic, payload, the dead-letter reason, or None where the ACL drops it)
    kinds: list[tuple[str, bytes, str | None]] = [
        (own[TELEMETRY], b"\x00not json", "not_json"),
        (own[TELEMETRY], b"\xff\xfe not utf-8", "not_utf8"),
        (own[HEALTH], b"[1, 2, 3]", "not_object"),
        # Over the contract's limit, under the broker's packet limit: it reaches the pipeline.
        (own[TELEMETRY], json.dumps({"v": SCHEMA_VERSION, "pad": padding}).encode(), "too_large"),
        (
            own[TELEMETRY],
            reading.replace(f'"v": {SCHEMA_VERSION}', '"v": 99').encode(),
            "bad_version",
        ),
        (
            own[BACKFILL],
            reading.replace('"seq": 1', '"seq": "one"').encode(),
            "field:readings[0].seq:wrong_type",
        ),
        (
            own[STATUS],
            json.dumps({"v": SCHEMA_VERSION, "state": "gone"}).encode(),
            "field:state:out_of_range",
        ),
        # A fifth channel, another device's topic and a topic below the flooder's own: the ACL
        # (the device's four channels exactly) drops them.
        (_topic(stack, FLOODER, "bogus"), reading.encode(), None),
        (_topic(stack, VICTIM, TELEMETRY), reading.encode(), None),
        (own[TELEMETRY] + "/deeper", reading.encode(), None),
    ]
    assert len(kinds[3][1]) < PIPELINE_MAX_PACKET_BYTES - 200
    messages = []
    reasons: Counter[str] = Counter()
    for i in range(FLOOD_SIZE):
        topic, payload, reason = kinds[i % len(kinds)]
        messages.append((topic, payload, i % 2))
        if reason is not None:
            reasons[reason] += 1
    return messages, reasons


def _client(client_id: str) -> mqtt.Client:
    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)


def _connect_result(stack: LocalStack, username: str | None, password: str | None) -> str:
    """What the broker answers a CONNECT with these credentials: the CONNACK reason."""
    client = _client(f"system-test-{username}-{password}")
    if username is not None:
        client.username_pw_set(username, password)
    answered = threading.Event()
    result: list[str] = []

    def on_connect(c: mqtt.Client, u: object, f: object, rc: mqtt.ReasonCode, p: object) -> None:
        result.append(str(rc))
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", stack.broker_port)
    client.loop_start()
    try:
        assert answered.wait(CONNECT_TIMEOUT_S), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return result[0]


def _dead_letters(stack: LocalStack) -> Counter[str]:
    """The pipeline's dead-letter counters in the store, by reason."""
    stack.storage.flush()
    counts: Counter[str] = Counter()
    for series in stack.storage.export(promql.DEAD_LETTERS):
        counts[series["metric"]["reason"]] += int(max(series["values"]))
    return counts


@contextlib.contextmanager
def _device_session(stack: LocalStack, device: str) -> Iterator[mqtt.Client]:
    client = _client(f"system-test-{device}")
    client.username_pw_set(device, stack.context.secrets.device_password(device))
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", stack.broker_port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_flood_of_bad_payloads_is_counted_and_the_healthy_device_loses_nothing(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = hostile.stack
    announce_pipeline(stack, capsys)
    messages, reasons = _flood(stack)
    allowed = reasons.total()
    started = time.monotonic()
    flood_began = time.time()
    with _device_session(stack, FLOODER) as flooder:
        sent = [flooder.publish(topic, payload, qos) for topic, payload, qos in messages]
        for info in sent:
            info.wait_for_publish(DRAIN_TIMEOUT_S)
    published_s = time.monotonic() - started
    wait_until(
        lambda: _dead_letters(stack).total() >= allowed, DRAIN_TIMEOUT_S, "dead letters counted"
    )
    drained_s = time.monotonic() - started
    with capsys.disabled():
        print(
            f"[flood: {FLOOD_SIZE} sent in {published_s:.1f} s, {allowed} reached the pipeline, "
            f"all counted after {drained_s:.1f} s: {allowed / drained_s:.0f} msg/s]",
            end=" ",
        )
    assert stack.pipeline is not None and stack.pipeline.healthy()
    healthy_during = [
        m for m in hostile.recorder.on(f"/{HEALTHY}/{TELEMETRY}$") if m.received > flood_began
    ]
    assert len(healthy_during) >= 3
    hostile.healthy.stop()
    assert_complete(stack, hostile.recorder, HEALTHY)
    assert _dead_letters(stack) == reasons
    # What the ACL dropped reached no subscriber.
    assert hostile.recorder.on(f"/{VICTIM}/") == []
    assert hostile.recorder.on("/deeper$") == []
    assert hostile.recorder.on("/bogus$") == []


def test_clients_without_a_valid_login_are_refused(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = hostile.stack
    announce_pipeline(stack, capsys)
    password = stack.context.secrets.device_password(FLOODER)
    assert _connect_result(stack, FLOODER, password) == "Success"
    assert _connect_result(stack, None, None) == "Not authorized"
    assert _connect_result(stack, FLOODER, password + "-wrong") == "Not authorized"
    assert _connect_result(stack, "nobody", password) == "Not authorized"


def test_a_device_cannot_write_another_devices_topics(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = hostile.stack
    announce_pipeline(stack, capsys)
    reading, _ = encode_readings(1, 1000, [(7, 500, None, 1000.0, 25.0, 3.5, 0)])
    # Its own channel with a valid payload: a fifth channel would be dropped too.
    marker = _topic(stack, FLOODER, STATUS)
    seen = len(hostile.recorder.messages)
    with _device_session(stack, FLOODER) as flooder:
        for channel in (TELEMETRY, BACKFILL, HEALTH, STATUS):
            flooder.publish(_topic(stack, VICTIM, channel), reading, 1).wait_for_publish(10)
        # Published after the forged ones on the same session: once it has arrived, they
        # would have too.
        flooder.publish(marker, OFFLINE_PAYLOAD.encode(), 1).wait_for_publish(10)
    hostile.recorder.wait_for(
        lambda m: m.topic == marker and m.text == OFFLINE_PAYLOAD, 10, after=seen
    )
    assert hostile.recorder.on(f"/{VICTIM}/") == []


def test_http_services_listen_on_loopback_only(
    hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = hostile.stack
    announce_pipeline(stack, capsys)
    # What the stack runs: every listening socket of every process this test started.
    found = listeners(children(os.getpid()))
    programs = {listener.program for listener in found}
    expected = {
        stack.storage.port: "victoria-metrics",
        stack.rules_port: "vmalert",
        stack.alertmanager.port: "alertmanager",
        stack.broker_port: "mosquitto",
    }
    by_port = {listener.port: listener.program for listener in found}
    for port, program in expected.items():
        assert program in by_port.get(port, ""), (port, program, found)
    if stack.pipeline_kind == "vector":
        assert "vector" in programs, found
    assert [listener for listener in found if not is_loopback(listener.address)] == []
    # The flags they were started with say the same.
    for pid in {listener.pid for listener in found}:
        for address in _listen_flags(pid):
            assert is_loopback(address.rpartition(":")[0].strip("[]")), (pid, address)

    # And the production configuration (rendered for the Pi, where the ports are the real
    # ones, and the store is the default one): HTTP services on loopback, Mosquitto's plain
    # listener too, its TLS listener on the site's address.
    site = stack.site.model_copy(
        update={
            "broker": stack.site.broker.model_copy(update={"address": LAN_ADDRESS}),
            "storage": Storage(),
        }
    )
    assert site.storage.urls.address.startswith(LOOPBACK)
    unit = victoriametrics.container(site)
    # Inside its own network namespace it listens on every interface; the host publishes the
    # port on loopback only.
    assert unit.network is None
    assert list(unit.publish) == [f"{LOOPBACK}8428:8428"]
    assert vmalert.LISTEN.startswith(LOOPBACK)
    assert f"-httpListenAddr={vmalert.LISTEN}" in vmalert.flags(site)
    flags = rendered_args(alertmanager.render_defaults(site))
    assert f"--web.listen-address={LOOPBACK}{site.alertmanager.port}" in flags
    # No gossip listener (it would listen on every interface).
    assert "--cluster.listen-address=" in flags
    config = vector.config(site)
    assert config["api"]["address"] == vector.API_ADDRESS
    assert vector.API_ADDRESS.startswith(LOOPBACK)
    addresses = list(_values(config, "address"))
    assert addresses and all(a.startswith(LOOPBACK) for a in addresses), addresses
    listeners_conf = [
        line for line in mosquitto.render_conf(site).splitlines() if line.startswith("listener ")
    ]
    assert listeners_conf == [
        f"listener {site.broker.plain_port} {LOOPBACK.rstrip(':')}",
        f"listener {site.broker.port} {LAN_ADDRESS}",
    ]


def _listen_flags(pid: int) -> list[str]:
    """The listen addresses on a process's command line (``-httpListenAddr``,
    ``--web.listen-address``)."""
    args = (PROC / str(pid) / "cmdline").read_bytes().decode().split("\0")
    return [
        arg.partition("=")[2]
        for arg in args
        if arg.partition("=")[0] in ("-httpListenAddr", "--web.listen-address")
    ]


def _values(tree: object, key: str) -> Iterator[str]:
    """Every value under ``key`` anywhere in a nested config."""
    if isinstance(tree, dict):
        for name, value in tree.items():
            if name == key:
                yield value
            yield from _values(value, key)
    elif isinstance(tree, list):
        for item in tree:
            yield from _values(item, key)
