"""Throughput: the readings per second the chain stores without loss, on this machine.

The chain (LocalStack: Mosquitto, the pipeline, VictoriaMetrics, vmalert) runs in a process of
its own with ``DEVICES`` devices. Publishers in this process log in as those devices and send
contract-valid live telemetry (``encode_readings``, one reading per message, QoS 1, as the
firmware does) at rising rates, each step for a fixed time. After each step the reading-sequence
samples stored in the step's time range are counted against the readings sent. A step passes
when every reading was stored and the last one within ``DRAIN_LIMIT_S`` of being sent (the
chain kept up instead of queueing); the ramp stops at the first step that does not.

Virtual boards would be the real firmware, but each is a CPython process at ~one core's
fraction: on a small machine they saturate the CPU long before the chain does. The publishers
send what the boards send, from one thread.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from sensor_bridge.render import RenderContext
from sensor_bridge.store.client import Store
from sensor_protocol.payloads import encode_readings
from sensor_protocol.topics import TELEMETRY, build_topic
from tests.bench.chain import SEQUENCE, bench_context, stored_samples
from tests.bench.report import Result
from tests.bench.stack_process import StackProcess

NAME = "throughput"
TITLE = "Throughput: readings per second stored without loss"
DEVICES = 4
QUICK_RATES = (50, 200, 800)
RATES = (25, 50, 100, 200, 400, 800, 1600, 3200)
QUICK_STEP_S, STEP_S = 5.0, 20.0
DRAIN_LIMIT_S = 10.0
DRAIN_TIMEOUT_S = 60.0
SERIES_PER_READING = 13
"""Samples the pipeline writes per reading: 4 values and 9 fault flags."""


class Publishers:
    """One MQTT client per device, publishing round-robin at a set rate."""

    def __init__(self, context: RenderContext, broker_port: int) -> None:
        self.site = context.site
        self.clients: dict[str, mqtt.Client] = {}
        self._acked = 0
        self._lock = threading.Lock()
        self._seq = 0
        self._last_ms: dict[str, int] = {}
        self._booted = time.monotonic()
        for device in self.site.devices:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.id)
            client.username_pw_set(device.id, context.secrets.device_password(device.id))
            client.max_queued_messages_set(0)
            client.on_publish = self._on_publish
            client.connect("127.0.0.1", broker_port, keepalive=30)
            client.loop_start()
            self.clients[device.id] = client
        deadline = time.monotonic() + 10
        while not all(c.is_connected() for c in self.clients.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("the publishers could not connect to the broker")
            time.sleep(0.05)

    @property
    def acked(self) -> int:
        with self._lock:
            return self._acked

    def step(self, rate: float, seconds: float) -> tuple[int, float, float, float]:
        """Publish at ``rate`` readings/s for ``seconds``: (sent, first t, last t, time taken)
        in s (longer than ``seconds`` when this thread cannot keep the rate)."""
        devices = list(self.clients)
        count = int(rate * seconds)
        began = time.monotonic()
        first = last = time.time()
        for n in range(count):
            due = began + n / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            device = devices[n % len(devices)]
            stamp = self._publish(device)
            first = stamp if n == 0 else first
            last = stamp
        return count, first / 1000, last / 1000, time.monotonic() - began

    def _publish(self, device: str) -> int:
        # Distinct timestamps per device: the same (series, ms) twice would be deduplicated.
        stamp = max(int(time.time() * 1000), self._last_ms.get(device, 0) + 1)
        self._last_ms[device] = stamp
        self._seq += 1
        up_ms = int((time.monotonic() - self._booted) * 1000)
        payload, _ = encode_readings(1, up_ms, [(self._seq, up_ms, stamp, 1100.0, 25.0, 3.5, 0)])
        topic = build_topic(self.site.topic_root, self.site.studio, device, TELEMETRY)
        self.clients[device].publish(topic, payload, qos=1)
        return stamp

    def _on_publish(self, *args: Any) -> None:
        with self._lock:
            self._acked += 1

    def close(self) -> None:
        for client in self.clients.values():
            client.disconnect()
            client.loop_stop()


def run(quick: bool, minutes: float) -> Result:
    rates, seconds = (QUICK_RATES, QUICK_STEP_S) if quick else (RATES, STEP_S)
    result = Result(NAME, TITLE)
    steps = []
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        workdir = Path(tmp)
        context = bench_context(workdir / "publishers", DEVICES)
        with StackProcess(workdir / "stack", DEVICES) as stack:
            kind = stack.info["pipeline"]
            print(f"  {DEVICES} devices, pipeline {kind}, {seconds:g} s per step")
            publishers = Publishers(context, stack.broker_port)
            try:
                for rate in rates:
                    step = _step(publishers, stack.store, rate, seconds)
                    steps.append(step)
                    print(f"  step {rate} readings/s: {step['stored']}/{step['sent']} stored")
                    if not step["passed"]:
                        break
            finally:
                publishers.close()
    passed = [step for step in steps if step["passed"]]
    best = max((step["rate"] for step in passed), default=0)
    # Every step passed: the chain's limit lies above the fastest rate tried.
    at_least = "at least " if len(passed) == len(rates) else ""
    result.data = {"steps": steps, "sustained_readings_per_s": best, "ramp_exhausted": at_least}
    result.add(
        "sustained without loss",
        f"{at_least}{best} readings/s ({best * SERIES_PER_READING} samples/s)"
        if passed
        else f"below {rates[0]} readings/s",
    )
    for step in steps:
        result.add(
            f"offered {step['rate']} readings/s",
            f"published {step['published_per_s']:.0f}/s, {step['acked']} acked, "
            f"{step['stored']}/{step['sent']} stored, the last {step['drain_s']:.1f} s after "
            "sending" + ("" if step["passed"] else " (fails)"),
        )
    result.notes.append(
        f"{DEVICES} MQTT publishers (paho, one thread, in the benchmark's process) send "
        f"contract-valid telemetry, one reading per message, QoS 1; the chain runs in its own "
        f"process (pipeline: {kind}). A step passes when all its readings are stored, the last "
        f"within {DRAIN_LIMIT_S:g} s. {seconds:g} s per step."
    )
    return result


def _step(publishers: Publishers, store: Store, rate: int, seconds: float) -> dict[str, Any]:
    acked_before = publishers.acked
    sent, first_s, last_s, took = publishers.step(rate, seconds)
    sent_at = time.monotonic()
    stored, previous, changed_at = 0, -1, sent_at
    while time.monotonic() - sent_at < DRAIN_TIMEOUT_S:
        samples = stored_samples(store, SEQUENCE, first_s - 0.001, last_s + 0.001)
        stored = sum(len(stamps) for stamps in samples.values())
        now = time.monotonic()
        if stored != previous:
            previous, changed_at = stored, now
        if stored >= sent or now - changed_at > DRAIN_LIMIT_S:
            break
        time.sleep(0.25)
    drain = changed_at - sent_at
    # PUBACKs received: a reading acked but not stored was dropped after the broker took it.
    acked = publishers.acked - acked_before
    return {
        "rate": rate,
        "sent": sent,
        "published_per_s": sent / took,
        "acked": acked,
        "stored": stored,
        "lost": sent - stored,
        "drain_s": drain,
        "passed": stored == sent and drain <= DRAIN_LIMIT_S,
    }
