"""What the furnaces publish, as the broker delivers it: a subscriber of its own (the pipeline's
user, another client id) that keeps, per device, the newest reading, the retained status, the
last health report and every (boot, seq) published, which the summary compares with storage.

Its session is persistent and its subscription QoS 1, like the pipeline's: across a broker
restart the broker keeps what it owes it, so "published" counts what the boards handed over.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self

import paho.mqtt.client as mqtt

from sensor_bridge.mqtt_accounts import DEMO_USER, login
from sensor_bridge.render import RenderContext
from sensor_protocol.payloads import PayloadError, decode_health, decode_readings, decode_status
from sensor_protocol.topics import BACKFILL, HEALTH, STATUS, TELEMETRY, device_filter, parse_topic


@dataclass
class Published:
    """One device as seen on the broker; times are wall-clock (time.time())."""

    status: str = "unknown"
    """The retained status topic: "online" (birth) or "offline" (last will)."""
    temp_c: float | None = None
    flame_v: float | None = None
    faults: int = 0
    reading_at: float | None = None
    """When the newest reading arrived."""
    newest: tuple[int, int] = (-1, -1)
    readings: set[tuple[int, int]] = field(default_factory=set)
    """(boot, seq) of every reading published, live or backfill."""
    backfilled: int = 0
    buffer_depth: int | None = None
    buffer_drops: int = 0
    health_at: float | None = None
    rejected: int = 0
    """Payloads that broke the contract (none expected from the real firmware)."""


class Observer:
    def __init__(self, context: RenderContext, broker_port: int) -> None:
        site = context.site
        self.devices = {device.id: Published() for device in site.devices}
        self._filter = device_filter(site.topic_root, site.studio)
        self._port = broker_port
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=DEMO_USER,
            clean_session=False,
        )
        self._client.username_pw_set(*login(context.secrets, DEMO_USER))
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    def start(self) -> Self:
        self._client.connect_async("127.0.0.1", self._port, keepalive=15)
        self._client.loop_start()
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def snapshot(self) -> dict[str, Published]:
        with self._lock:
            return {
                device: Published(**{**vars(state), "readings": set(state.readings)})
                for device, state in self.devices.items()
            }

    def published(self) -> dict[str, int]:
        with self._lock:
            return {device: len(state.readings) for device, state in self.devices.items()}

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(self._filter, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object, message: Any) -> None:
        try:
            _, _, device, channel = parse_topic(message.topic)
        except ValueError:
            return
        with self._lock:
            state = self.devices.get(device)
            if state is None:
                return
            try:
                _take(state, channel, message.payload)
            except PayloadError:
                state.rejected += 1

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _take(state: Published, channel: str, payload: bytes) -> None:
    now = time.time()
    if channel == STATUS:
        state.status = str(decode_status(payload)["state"])
    elif channel == HEALTH:
        health = decode_health(payload)
        state.buffer_depth = int(health["buffer_depth"])
        state.buffer_drops = int(health["buffer_drops"])
        state.health_at = now
    elif channel in (TELEMETRY, BACKFILL):
        batch = decode_readings(payload)
        boot = int(batch["boot"])
        for reading in batch["readings"]:
            key = (boot, int(reading["seq"]))
            state.readings.add(key)
            if channel == BACKFILL:
                state.backfilled += 1
            if key > state.newest:
                state.newest = key
                state.temp_c = reading["temp_c"]
                state.flame_v = reading["flame_v"]
                state.faults = int(reading["faults"])
                state.reading_at = now
