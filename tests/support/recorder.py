"""A paho-mqtt subscriber that records what a broker delivers, for assertions."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    received: float = field(compare=False)
    """When the recorder got it, on the recorder's clock (time.time() unless told otherwise)."""

    @property
    def channel(self) -> str:
        return self.topic.rsplit("/", 1)[-1]

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


class Recorder:
    """Subscribes to ``topics`` on 127.0.0.1:port and keeps every message in order."""

    # Each keyword is one paho client option some test varies; grouping them would only rename.
    def __init__(  # noqa: PLR0913
        self,
        port: int,
        topics: list[str],
        *,
        client_id: str = "test-recorder",
        username: str | None = None,
        password: str | None = None,
        clean_session: bool = True,
        host: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
        ca_file: Path | None = None,
    ) -> None:
        """``clock`` stamps each message's ``received``; ``host`` is the broker's address;
        ``ca_file``: connect over TLS, verifying the broker against that CA and ``host``."""
        self.messages: list[Message] = []
        self.host = host
        self._clock = clock
        self._cond = threading.Condition()
        self._topics = topics
        self._connected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self.port = port

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        if not getattr(rc, "is_failure", False):
            client.subscribe([(topic, 1) for topic in self._topics])

    def _on_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, codes: object, props: object
    ) -> None:
        # Ready once the broker has acknowledged the subscriptions: a message published after
        # ``start`` returns is then certain to be routed here.
        self._connected.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(
                Message(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, self._clock())
            )
            self._cond.notify_all()

    def start(self, timeout: float = 10.0) -> Recorder:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            raise TimeoutError("recorder could not connect/subscribe")
        return self

    def wait_connected(self, timeout: float) -> None:
        """Block until the client is (back) on the broker."""
        deadline = time.monotonic() + timeout
        while not self.client.is_connected():
            if time.monotonic() > deadline:
                raise TimeoutError(f"recorder not reconnected after {timeout} s")
            time.sleep(0.05)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def on(self, topic_regex: str) -> list[Message]:
        pattern = re.compile(topic_regex)
        with self._cond:
            return [m for m in self.messages if pattern.search(m.topic)]

    def wait_for(
        self,
        predicate: Callable[[Message], bool],
        timeout: float,
        *,
        after: int = 0,
    ) -> Message:
        """The first message from index ``after`` on that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            index = after
            while True:
                while index < len(self.messages):
                    if predicate(self.messages[index]):
                        return self.messages[index]
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching message within {timeout} s")
                self._cond.wait(remaining)


class DevicePublisher:
    """A device's MQTT session: publishes at QoS 1 and waits for the broker's PUBACK."""

    def __init__(
        self,
        port: int,
        username: str,
        password: str,
        timeout: float = 10.0,
        *,
        client_id: str | None = None,
    ) -> None:
        """``client_id``: what the client asks for (its username unless told)."""
        self.timeout = timeout
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or username)
        self.client.username_pw_set(username, password)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(self.timeout)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
