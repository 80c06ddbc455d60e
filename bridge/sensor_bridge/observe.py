"""Asking the live services what they know: the broker's retained device status, and how old
each device's newest sample in the store is. Failures raise ``BridgeError`` (one line)."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from typing import Any

from sensor_bridge.errors import BridgeError
from sensor_bridge.store import queries
from sensor_bridge.store.client import Store
from sensor_protocol.fields import (
    CONTRACT_METRICS,
    HEALTH_FIELDS,
    METRIC_NAMESPACE,
    READING_FIELDS,
)
from sensor_protocol.payloads import PayloadError, decode_status


class BrokerUnreachable(BridgeError):
    """No connection to the broker at all (as opposed to one that refuses or stalls)."""

    def __init__(self, message: str, reason: OSError) -> None:
        super().__init__(message)
        self.reason = reason


def retained_states(
    host: str, port: int, auth: tuple[str, str], topics: Mapping[str, str], timeout: float
) -> dict[str, str]:
    """Device → ``state`` of the retained message on its status topic (``topics``: device →
    topic); a device without one (or with one that breaks the contract) is left out."""
    payloads = retained_messages(host, port, auth=auth, topics=topics.values(), timeout=timeout)
    return {device: str(s["state"]) for device, s in statuses(topics, payloads).items()}


def statuses(topics: Mapping[str, str], payloads: Mapping[str, bytes]) -> dict[str, dict[str, Any]]:
    """Device → its decoded retained status (``topics``: device → topic; ``payloads``: topic →
    payload); a device without one, or with one that breaks the contract, is left out."""
    decoded: dict[str, dict[str, Any]] = {}
    for device, topic in topics.items():
        if topic not in payloads:
            continue
        try:
            decoded[device] = decode_status(payloads[topic])
        except PayloadError:
            continue
    return decoded


def retained_messages(
    host: str,
    port: int,
    *,
    auth: tuple[str, str],
    topics: Collection[str],
    timeout: float,
) -> dict[str, bytes]:
    """Topic → payload of the retained message on each of ``topics`` (exact names, ``$SYS``
    ones included); a topic without one is left out. ``auth`` is the caller's own account
    (``mqtt_accounts``): the broker takes its username as the client id."""
    import paho.mqtt.client as mqtt

    wanted = set(topics)
    payloads: dict[str, bytes] = {}
    problem: list[str] = []
    done = threading.Event()
    acks = 0
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=auth[0], clean_session=True)
    client.username_pw_set(*auth)
    client.connect_timeout = timeout

    def on_connect(client: Any, userdata: object, flags: object, code: Any, props: Any) -> None:
        if code.is_failure:
            problem.append(f"the broker refused the login of {auth[0]!r}: {code}")
            done.set()
            return
        client.subscribe([(topic, 0) for topic in wanted])

    def on_subscribe(client: Any, userdata: object, mid: int, codes: Any, props: Any) -> None:
        # The broker sends a filter's retained messages right after its SUBACK and before it
        # reads the next packet: once a second SUBACK is back, every retained message is here.
        nonlocal acks
        acks += 1
        if acks == 1:
            client.subscribe([(topic, 0) for topic in wanted])
        else:
            done.set()

    def on_message(client: Any, userdata: object, message: Any) -> None:
        if message.topic in wanted:
            payloads[message.topic] = bytes(message.payload)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(host, port, keepalive=max(5, int(timeout)))
    except OSError as error:
        message = f"cannot reach the broker at {host}:{port}: {error}"
        raise BrokerUnreachable(message, error) from None
    client.loop_start()
    try:
        finished = done.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    if problem:
        raise BridgeError(problem[0])
    if not finished:
        raise BridgeError(f"the broker at {host}:{port} did not answer within {timeout:g} s")
    return payloads


def device_metrics() -> list[str]:
    """Every series a device's messages become (readings, health, status)."""
    names = [f.metric for f in READING_FIELDS + HEALTH_FIELDS if f.metric is not None]
    return [f"{METRIC_NAMESPACE}_{name}" for name in [*names, *CONTRACT_METRICS]]


def newest_sample_ages(store: Store, studio: str, window: str, now: float) -> dict[str, float]:
    """Device → seconds from its newest sample (any of ``device_metrics``) to ``now``; devices
    with none in the last ``window`` are left out."""
    query = queries.newest_sample_per_device(device_metrics(), studio, window)
    return {
        item["metric"]["device"]: now - float(item["value"][1])
        for item in store.query(query, now)
        if "device" in item["metric"]
    }
