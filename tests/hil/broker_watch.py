"""What the board publishes, as the broker delivers it to a subscriber of the device's topics.

The watcher logs in as the observer account (``mqtt_accounts.OBSERVER_USER``: it may read every
device's channels), so a running pipeline is not disturbed; the broker takes the username as
the client id, so the retained-status probe, which runs beside it, logs in as status's account
(a second client on the watcher's account would kick the watcher off). Its session is
persistent and its subscription QoS 1: while the broker is stopped for the outage case, what
the board sends right after the broker returns is queued for the watcher even if the watcher
reconnects later. ``close`` removes the session from the broker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensor_protocol.payloads import OFFLINE_PAYLOAD, decode_readings, decode_status
from tests.support.recorder import Message, Recorder

RETAINED_WAIT_S = 5.0


@dataclass(frozen=True)
class BrokerAccess:
    host: str
    port: int
    watcher: tuple[str, str]
    """The watcher's login (username, password)."""
    prober: tuple[str, str]
    """The retained-status probe's login."""
    prefix: str
    """The device's topic prefix, ``root/studio/device``."""
    ca_file: Path
    """The studio's CA: the suite reaches the broker over TLS, as the board does."""


def _recorder(access: BrokerAccess, login: tuple[str, str], topic: str, clean: bool) -> Recorder:
    return Recorder(access.port, [topic], **_session(access, login, clean))


def _session(access: BrokerAccess, login: tuple[str, str], clean: bool) -> dict[str, Any]:
    # Monotonic stamps: the suite times messages against the serial console's events.
    username, password = login
    return {
        "client_id": username,
        "username": username,
        "password": password,
        "clean_session": clean,
        "host": access.host,
        "clock": time.monotonic,
        "ca_file": access.ca_file,
    }


class BrokerWatch(Recorder):
    """Everything under the device's prefix, in a persistent session of its own."""

    def __init__(self, access: BrokerAccess) -> None:
        session = _session(access, access.watcher, False)
        super().__init__(access.port, [access.prefix + "/#"], **session)
        self.access = access

    def start(self, timeout: float = 10.0) -> BrokerWatch:
        try:
            super().start(timeout)
        except TimeoutError:
            raise TimeoutError(
                f"could not subscribe to {self.access.prefix}/# on "
                f"{self.access.host}:{self.access.port} as {self.access.watcher[0]}"
            ) from None
        return self

    def close(self) -> None:
        self.stop()
        # A clean connection with the same id deletes the persistent session and its queue.
        cleaner = _recorder(self.access, self.access.watcher, self.access.prefix + "/#", clean=True)
        try:
            cleaner.client.connect(self.access.host, self.access.port)
            cleaner.client.disconnect()
        except OSError:
            pass

    def mark(self) -> int:
        return len(self.on(""))

    def since(self, index: int, channel: str | None = None) -> list[Message]:
        found = self.on("")[index:]
        return [m for m in found if channel is None or m.channel == channel]

    def retained_status(self) -> Message:
        """The status topic's retained message, as a new subscriber gets it."""
        probe = _recorder(self.access, self.access.prober, self.access.prefix + "/status", True)
        with probe:
            try:
                return probe.wait_for(lambda message: True, RETAINED_WAIT_S)
            except TimeoutError:
                raise TimeoutError(f"no retained message on {self.access.prefix}/status") from None


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
