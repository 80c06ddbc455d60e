"""Asking the live services what they know: the broker's retained device status, and how old
each device's newest sample in VictoriaMetrics is. Failures raise ``BridgeError`` (one line)."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from sensor_bridge.errors import BridgeError
from sensor_protocol.fields import (
    CONTRACT_METRICS,
    HEALTH_FIELDS,
    METRIC_NAMESPACE,
    READING_FIELDS,
)
from sensor_protocol.payloads import PayloadError, decode_status

TIMEOUT_S = 10.0


def retained_states(
    host: str, port: int, auth: tuple[str, str], topics: Mapping[str, str], timeout: float
) -> dict[str, str]:
    """Device → ``state`` of the retained message on its status topic (``topics``: device →
    topic); a device without one (or with one that breaks the contract) is left out."""
    import paho.mqtt.client as mqtt

    by_topic = {topic: device for device, topic in topics.items()}
    states: dict[str, str] = {}
    problem: list[str] = []
    done = threading.Event()
    acks = 0
    # Its own client id and a clean session: never the pipeline's persistent session.
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"sensor-bridge-dataflow-{os.getpid()}",
        clean_session=True,
    )
    client.username_pw_set(*auth)

    def on_connect(client: Any, userdata: object, flags: object, code: Any, props: Any) -> None:
        if code.is_failure:
            problem.append(f"the broker refused the login of {auth[0]!r}: {code}")
            done.set()
            return
        client.subscribe([(topic, 0) for topic in by_topic])

    def on_subscribe(client: Any, userdata: object, mid: int, codes: Any, props: Any) -> None:
        # The broker sends a filter's retained messages right after its SUBACK and before it
        # reads the next packet: once a second SUBACK is back, every retained status is here.
        nonlocal acks
        acks += 1
        if acks == 1:
            client.subscribe([(topic, 0) for topic in by_topic])
        else:
            done.set()

    def on_message(client: Any, userdata: object, message: Any) -> None:
        device = by_topic.get(message.topic)
        if device is None:
            return
        try:
            states[device] = str(decode_status(message.payload)["state"])
        except PayloadError:
            states.pop(device, None)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(host, port, keepalive=max(5, int(timeout)))
    except OSError as error:
        raise BridgeError(f"cannot reach the broker at {host}:{port}: {error}") from None
    client.loop_start()
    try:
        finished = done.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    if problem:
        raise BridgeError(problem[0])
    if not finished:
        raise BridgeError(f"the broker at {host}:{port} did not answer within {timeout:.0f} s")
    return states


def device_metrics() -> list[str]:
    """Every series a device's messages become (readings, health, status)."""
    names = [f.metric for f in READING_FIELDS + HEALTH_FIELDS if f.metric is not None]
    return [f"{METRIC_NAMESPACE}_{name}" for name in [*names, *CONTRACT_METRICS]]


def newest_sample_ages(vm_url: str, studio: str, window: str, now: float) -> dict[str, float]:
    """Device → seconds from its newest sample (any of ``device_metrics``) to ``now``; devices
    with none in the last ``window`` are left out. Asks past the query latency offset and the
    cache, which would hide the newest samples (1 ms: the smallest offset it accepts)."""
    names = "|".join(device_metrics())
    query = (
        f'max by (device) (tlast_over_time({{__name__=~"{names}", studio="{studio}"}}[{window}]))'
    )
    params = {"query": query, "time": f"{now:.3f}", "latency_offset": "1ms", "nocache": "1"}
    url = f"{vm_url}/api/v1/query?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        reason = error.read().decode(errors="replace").strip()[:300]
        raise BridgeError(f"VictoriaMetrics at {vm_url} refused the query: {reason}") from None
    except (OSError, ValueError) as error:
        raise BridgeError(f"cannot query VictoriaMetrics at {vm_url}: {error}") from None
    return {
        item["metric"]["device"]: now - float(item["value"][1])
        for item in body["data"]["result"]
        if "device" in item["metric"]
    }
