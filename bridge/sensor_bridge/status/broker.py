"""The broker's probe: one MQTT login as status's own account reads, in one go, the broker's
version and client count (its retained ``$SYS`` topics, which the rendered ACL lets that
account read) and every device's retained status (birth or last will)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sensor_bridge.errors import BridgeError
from sensor_bridge.mqtt_accounts import SYS_CLIENTS_TOPIC, SYS_VERSION_TOPIC
from sensor_bridge.observe import BrokerUnreachable, retained_messages, statuses
from sensor_bridge.status.report import CANNOT_CHECK, DOWN, UNHEALTHY, UP, ServiceStatus
from sensor_bridge.status.services import Ask, why_no_answer


@dataclass(frozen=True)
class BrokerFindings:
    service: ServiceStatus
    statuses: dict[str, dict[str, Any]] | None
    """Device → its decoded retained status (absent: none); None: the broker was not asked."""


def probe(ask: Ask) -> BrokerFindings:
    """As status's own account; ``ask.topics``: device → its status topic."""
    name, address, timeout, topics = ask.name, ask.address, ask.timeout, ask.topics
    login, missing = ask.logins.broker, ask.logins.missing
    if login is None:
        return BrokerFindings(
            ServiceStatus(name, address, CANNOT_CHECK, detail=f"no login: {missing}"), None
        )
    host, _, port = address.rpartition(":")
    wanted = [*topics.values(), SYS_VERSION_TOPIC, SYS_CLIENTS_TOPIC]
    try:
        payloads = retained_messages(host, int(port), auth=login, topics=wanted, timeout=timeout)
    except BrokerUnreachable as error:
        why = f"{why_no_answer(error.reason, timeout)} at {address}"
        return BrokerFindings(ServiceStatus(name, address, DOWN, detail=why), None)
    except BridgeError as error:
        return BrokerFindings(ServiceStatus(name, address, UNHEALTHY, detail=str(error)), None)
    version_text = payloads.get(SYS_VERSION_TOPIC, b"").decode(errors="replace")
    version = version_text.removeprefix("mosquitto version ").strip() or None
    clients = payloads.get(SYS_CLIENTS_TOPIC, b"").decode(errors="replace").strip()
    # Mosquitto counts every $SYS interval (10 s by default), this probe not yet included.
    detail = f"{clients} clients connected" if clients else "login ok (no $SYS client count)"
    return BrokerFindings(
        ServiceStatus(name, address, UP, version, detail), statuses(topics, payloads)
    )
