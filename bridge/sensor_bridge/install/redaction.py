"""Secrets out of anything the deploy prints: a tool's error line may quote a config's text."""

from __future__ import annotations

from typing import Any

from sensor_bridge.site import Secrets

MASK = "********"
_SHORTEST = 4
"""Shorter values ("on", a port) would mask ordinary words; no real secret is that short."""


def secret_values(secrets: Secrets) -> list[str]:
    """Every string in the secrets file, longest first (a token may contain a shorter one)."""
    values: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if len(value) >= _SHORTEST:
                values.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(secrets.model_dump())
    return sorted(set(values), key=len, reverse=True)


def redact(text: str, secrets: Secrets) -> str:
    for value in secret_values(secrets):
        text = text.replace(value, MASK)
    return text
