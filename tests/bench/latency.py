"""End-to-end latency: a reading taken on the board → stored in VictoriaMetrics.

The example site's two devices run the real firmware on virtual boards at speed 1 (their clock
is the host's, set over NTP), sampling at the default period, through the real Mosquitto and
the pipeline. A poller exports the reading-sequence series every ``POLL_S`` (raw samples, which
``-search.latencyOffset`` does not hide) and notes when each sample first appears; its latency
is that moment minus the sample's own timestamp (``t``, taken by the board). Queries (dashboards,
vmalert) see a sample only ``storage.latency_offset`` after it was taken: that figure is
max(stored latency, offset) per sample, derived, not polled. A subscriber on the telemetry
topics (the pipeline's MQTT user, its own client id) splits the path: taken → at the broker's
subscribers, and the rest (pipeline and storage).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sensor_bridge.alerting import durations
from sensor_bridge.local.stack import LocalStack
from sensor_bridge.mqtt_accounts import OBSERVER_USER, login
from sensor_protocol.payloads import decode_readings
from sensor_protocol.topics import TELEMETRY, device_filter, parse_topic
from tests.bench.chain import SEQUENCE, bench_context, furnaces, stored_samples
from tests.bench.report import Result, percentiles, spread
from tests.support.recorder import Recorder

NAME = "latency"
TITLE = "End-to-end latency: reading taken → stored in VictoriaMetrics"
POLL_S = 0.1


def run(quick: bool, minutes: float) -> Result:
    seconds = 60.0 if quick else 600.0
    result = Result(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        workdir = Path(tmp)
        with (
            LocalStack(bench_context(workdir / "site"), workdir, defer_rules=True) as stack,
            _subscriber(stack) as subscriber,
            furnaces(stack.context, stack.board_port, workdir),
        ):
            stack.start_rules()
            print(f"  {len(stack.site.devices)} virtual furnaces, pipeline {stack.pipeline_kind}")
            stored_at = _poll(stack, seconds)
            published_at = _published(subscriber)
            offset = durations.seconds(stack.site.storage.latency_offset)
            kind = stack.pipeline_kind
            devices = len(stack.site.devices)
    if not stored_at:
        raise RuntimeError("no reading was stored during the run")
    latencies = [at - stamp / 1000 for (_, stamp), at in stored_at.items()]
    stored = percentiles(latencies)
    queryable = percentiles([max(latency, offset) for latency in latencies])
    at_broker = percentiles(
        [published_at[key] - key[1] / 1000 for key in stored_at if key in published_at]
    )
    result.data = {
        "stored": stored,
        "queryable": queryable,
        "at_broker": at_broker,
        "latency_offset_s": offset,
    }
    result.add("readings measured", f"{len(latencies)} in {seconds:.0f} s from {devices} devices")
    result.add("taken → at the broker's subscribers", spread(at_broker))
    result.add("taken → stored and exportable", spread(stored))
    result.add(f"taken → queryable (latency offset {offset:g} s)", spread(queryable))
    result.notes.append(
        f"Two virtual furnaces (real firmware) at speed 1, default sample period; pipeline: "
        f"{kind}. Stored: first returned by /api/v1/export, polled every {POLL_S} s, timed "
        f"at the request's start (so up to {POLL_S} s late). Queryable: max(stored, the "
        "rendered -search.latencyOffset), derived."
    )
    return result


def _subscriber(stack: LocalStack) -> Recorder:
    # Not Vector's account: the broker would hand this client Vector's session.
    user, password = login(stack.context.secrets, OBSERVER_USER)
    return Recorder(
        stack.broker_port,
        [device_filter(stack.site.topic_root, stack.site.studio)],
        client_id=user,
        username=user,
        password=password,
    )


def _published(subscriber: Recorder) -> dict[tuple[str, int], float]:
    """(device, reading timestamp ms) → when the subscriber received it (wall clock)."""
    arrived = {}
    for message in subscriber.messages:
        *_, device, channel = parse_topic(message.topic)
        if channel != TELEMETRY:
            continue
        for reading in decode_readings(message.payload)["readings"]:
            if reading["t"] is not None:
                arrived[(device, reading["t"])] = message.received
    return arrived


def _poll(stack: LocalStack, seconds: float) -> dict[tuple[str, int], float]:
    """(device, reading timestamp ms) → when it was first exported (wall clock), for readings
    taken after polling began (earlier ones may have been stored before the first look)."""
    began_ms = time.time() * 1000
    seen: set[tuple[str, int]] = set()
    stored_at = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # A sample first seen by this export was stored before the request was sent.
        asked = time.time()
        samples = stored_samples(stack.storage, SEQUENCE)
        for device, stamps in samples.items():
            for stamp in stamps:
                if (device, stamp) not in seen:
                    seen.add((device, stamp))
                    if stamp >= began_ms:
                        stored_at[(device, stamp)] = asked
        time.sleep(POLL_S)
    return stored_at
