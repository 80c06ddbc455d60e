"""Secrets out of anything the deploy prints: a tool's error line may quote a config's text."""

from __future__ import annotations

from typing import Any

from sensor_bridge import mqtt_accounts
from sensor_bridge.site import Secrets, Site

MASK = "********"
_SHORTEST = 4
"""Shorter values ("on", a port) would mask ordinary words; no real secret is that short."""


def secret_values(secrets: Secrets, site: Site) -> list[str]:
    """Every string in the secrets file and every consumer's MQTT password derived from it
    (rendered into Vector's secrets), longest first (a token may contain a shorter one)."""
    values: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if len(value) >= _SHORTEST:
                values.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(secrets.model_dump())
    if secrets.mqtt.pipeline:
        values += [mqtt_accounts.password(secrets, c.user) for c in mqtt_accounts.consumers(site)]
    return sorted(set(values), key=len, reverse=True)


def redact(text: str, secrets: Secrets, site: Site) -> str:
    for value in secret_values(secrets, site):
        text = text.replace(value, MASK)
    return text
