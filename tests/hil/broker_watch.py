"""What the board publishes, as the broker delivers it to a subscriber of the device's topics.

The watcher logs in as the pipeline (its user may read every device's topics) with a client
id of its own, so a running pipeline is not disturbed. Its session is persistent and its
subscription QoS 1: while the broker is stopped for the outage case, what the board sends
right after the broker returns is queued for the watcher even if the watcher reconnects
later. ``close`` removes the session from the broker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from sensor_protocol.payloads import OFFLINE_PAYLOAD, decode_readings, decode_status

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 2
RETAINED_WAIT_S = 5.0


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    received: float = field(compare=False)
    """Host time (time.monotonic()) when it arrived."""

    @property
    def channel(self) -> str:
        return self.topic.rsplit("/", 1)[-1]

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class BrokerAccess:
    host: str
    port: int
    username: str
    password: str
    prefix: str
    """The device's topic prefix, ``root/studio/device``."""


def _client(access: BrokerAccess, client_id: str, clean: bool) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    client.username_pw_set(access.username, access.password)
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    return client


class BrokerWatch:
    def __init__(self, access: BrokerAccess, client_id: str) -> None:
        self.access = access
        self._client_id = client_id
        self.messages: list[Message] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self._client = _client(access, client_id, clean=False)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *args: self._subscribed.set()
        self._client.on_message = self._on_message

    def start(self, timeout: float = 10.0) -> BrokerWatch:
        self._client.connect(self.access.host, self.access.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            raise TimeoutError(
                f"could not subscribe to {self.access.prefix}/# on "
                f"{self.access.host}:{self.access.port} as {self.access.username}"
            )
        return self

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        # A clean connection with the same id deletes the persistent session and its queue.
        cleaner = _client(self.access, self._client_id, clean=True)
        try:
            cleaner.connect(self.access.host, self.access.port)
            cleaner.disconnect()
        except OSError:
            pass

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(self.access.prefix + "/#", qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.messages.append(
                Message(msg.topic, bytes(msg.payload), bool(msg.retain), time.monotonic())
            )
            self._changed.notify_all()

    # --- reading ----------------------------------------------------------------------

    def mark(self) -> int:
        with self._changed:
            return len(self.messages)

    def since(self, index: int, channel: str | None = None) -> list[Message]:
        with self._changed:
            found = self.messages[index:]
        return [m for m in found if channel is None or m.channel == channel]

    def wait_for(
        self, predicate: Callable[[Message], bool], timeout: float, *, after: int
    ) -> Message:
        deadline = time.monotonic() + timeout
        index = after
        with self._changed:
            while True:
                while index < len(self.messages):
                    if predicate(self.messages[index]):
                        return self.messages[index]
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no such message on {self.access.prefix}/# in {timeout} s")
                self._changed.wait(remaining)

    def retained_status(self) -> Message:
        """The status topic's retained message, as a new subscriber gets it."""
        got: list[Message] = []
        arrived = threading.Event()
        probe = _client(self.access, self._client_id + "-probe", clean=True)

        def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
            got.append(Message(msg.topic, bytes(msg.payload), bool(msg.retain), time.monotonic()))
            arrived.set()

        probe.on_connect = lambda client, *args: client.subscribe(self.access.prefix + "/status")
        probe.on_message = on_message
        probe.connect(self.access.host, self.access.port)
        probe.loop_start()
        try:
            if not arrived.wait(RETAINED_WAIT_S):
                raise TimeoutError(f"no retained message on {self.access.prefix}/status")
        finally:
            probe.disconnect()
            probe.loop_stop()
        return got[0]


def is_birth(message: Message) -> bool:
    return message.channel == "status" and message.text != OFFLINE_PAYLOAD


def is_offline(message: Message) -> bool:
    return message.channel == "status" and message.text == OFFLINE_PAYLOAD


def birth(message: Message) -> dict[str, Any]:
    return decode_status(message.payload)


def readings(messages: list[Message], channel: str) -> list[tuple[Message, dict[str, Any]]]:
    """Every reading on ``channel`` with the message that carried it, with its envelope."""
    found = []
    for message in messages:
        if message.channel != channel:
            continue
        payload = decode_readings(message.payload)
        for reading in payload["readings"]:
            found.append((message, {**reading, "v": payload["v"], "boot": payload["boot"]}))
    return found
