"""Alertmanager silences, through its API v2: mute one device for a while, list, remove.

A furnace shut down for maintenance would page its owner with every alert it has; a silence
on its ``studio`` and ``device`` labels mutes them all (shop and system) until it ends.
Only the standard library talks HTTP here: this runs on the Pi beside Alertmanager.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sensor_bridge.alerting import alerts, durations
from sensor_bridge.errors import BridgeError

TIMEOUT_S = 5.0
SHOWN_STATES = ("active", "pending")
"""What ``silences`` lists; expired silences stay in Alertmanager for days, but mute nothing."""

SILENCE_UNITS = ("m", "h", "d", "w")
"""Minutes to weeks: a silence of seconds or of years is a typing mistake."""

# (isEqual, isRegex) -> how Alertmanager writes the matcher
_OPERATORS = {(True, False): "=", (True, True): "=~", (False, False): "!=", (False, True): "!~"}


class AlertmanagerError(BridgeError):
    """Alertmanager is not reachable (``status`` None), or refused a request."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Silence:
    id: str
    state: str
    matchers: str
    """``device="kiln", studio="s1"`` as Alertmanager shows them."""
    ends_at: datetime
    created_by: str
    comment: str


def parse_duration(text: str) -> timedelta:
    """``30m``, ``8h``, ``2d`` or ``1w``; ValueError otherwise."""
    try:
        _, unit = durations.split(text)
    except ValueError:
        unit = ""
    if unit not in SILENCE_UNITS:
        raise ValueError(f"{text!r} is not a duration like 30m, 8h, 2d or 1w")
    return timedelta(seconds=durations.seconds(text))


def author() -> str:
    """``user@host`` of who runs the command (the user behind sudo, not root)."""
    user = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"{user}@{socket.gethostname()}"


class Silences:
    """The silences of the Alertmanager at ``url`` (e.g. ``http://127.0.0.1:9093``)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def silence_device(
        self, studio: str, device: str, duration: timedelta, reason: str, created_by: str
    ) -> str:
        """Mute every alert of ``device`` from now for ``duration``; the new silence's id."""
        now = datetime.now(UTC)
        body = {
            "matchers": [
                _matcher(alerts.STUDIO_LABEL, studio),
                _matcher(alerts.DEVICE_LABEL, device),
            ],
            "startsAt": now.isoformat(),
            "endsAt": (now + duration).isoformat(),
            "createdBy": created_by,
            "comment": reason,
        }
        created = self._request("POST", "/api/v2/silences", body, f"silence {device}")
        silence_id: str = created["silenceID"]
        return silence_id

    def active(self) -> list[Silence]:
        """Silences that mute now or will (pending), soonest end first."""
        listed = self._request("GET", "/api/v2/silences", None, "list silences")
        found = [_silence(item) for item in listed if item["status"]["state"] in SHOWN_STATES]
        return sorted(found, key=lambda s: s.ends_at)

    def remove(self, silence_id: str) -> None:
        """Expire the silence ``silence_id`` (Alertmanager keeps it, expired, for a while)."""
        try:
            self._request("DELETE", f"/api/v2/silence/{silence_id}", None, f"remove {silence_id}")
        except AlertmanagerError as error:
            # 0.25 answers 500 "silence not found" for an unknown id, 422 for a malformed one.
            if error.status == 422 or "not found" in str(error):
                raise AlertmanagerError(
                    f"Alertmanager has no silence {silence_id}: `alerts silences` lists them",
                    error.status,
                ) from None
            raise

    def _request(self, method: str, path: str, body: object, what: str) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace").strip().splitlines() or [error.reason]
            raise AlertmanagerError(
                f"Alertmanager at {self.url} refused to {what}: {error.code} {detail[0].strip()}",
                error.code,
            ) from None
        except (urllib.error.URLError, OSError) as error:
            cause = getattr(error, "reason", error)
            reason = getattr(cause, "strerror", None) or cause
            raise AlertmanagerError(
                f"Alertmanager is not reachable at {self.url} ({reason}): is it running? "
                "(systemctl status prometheus-alertmanager)"
            ) from None
        return json.loads(text) if text.strip() else None


def _matcher(name: str, value: str) -> dict[str, object]:
    return {"name": name, "value": value, "isRegex": False, "isEqual": True}


def _silence(item: dict[str, Any]) -> Silence:
    matchers = ", ".join(
        f'{m["name"]}{_OPERATORS[m.get("isEqual", True), m["isRegex"]]}"{m["value"]}"'
        for m in item["matchers"]
    )
    return Silence(
        id=item["id"],
        state=item["status"]["state"],
        matchers=matchers,
        ends_at=datetime.fromisoformat(item["endsAt"]),
        created_by=item["createdBy"],
        comment=item["comment"],
    )
