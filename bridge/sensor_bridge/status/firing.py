"""The firing alerts, from Alertmanager (what reaches people, with silences and inhibitions
applied) or, when it does not answer, from vmalert (what the rules say). The heartbeat alert
always fires by design and is left out."""

from __future__ import annotations

import json

from sensor_bridge import registry
from sensor_bridge.alerting import alerts
from sensor_bridge.status.report import FiringAlert
from sensor_bridge.status.services import get

ALERTMANAGER = registry.ALERTMANAGER.title
VMALERT = registry.VMALERT.title
"""Where the alerts on the screen come from, as the services' projects write their names."""


class Unreadable(Exception):
    """The service answered, but not with its alert list."""


def from_alertmanager(url: str, timeout: float) -> tuple[FiringAlert, ...]:
    """Active and suppressed alerts (``GET /api/v2/alerts``); ``NoAnswer`` or ``Unreadable``."""
    answer = get(f"{url}/api/v2/alerts", timeout)
    try:
        if answer.status != 200:
            raise ValueError(answer.status)
        found = [
            _alert(
                item["labels"],
                item.get("annotations", {}),
                item["startsAt"],
                silenced=item["status"]["state"] == "suppressed",
            )
            for item in json.loads(answer.body)
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise Unreadable(f"Alertmanager's /api/v2/alerts: {error!r}") from None
    return _sorted(found)


def from_vmalert(url: str, timeout: float) -> tuple[FiringAlert, ...]:
    """The firing alerts of vmalert's rules (``GET /api/v1/alerts``; pending ones left out)."""
    answer = get(f"{url}/api/v1/alerts", timeout)
    try:
        if answer.status != 200:
            raise ValueError(answer.status)
        found = [
            _alert(item["labels"], item.get("annotations", {}), item["activeAt"], silenced=False)
            for item in json.loads(answer.body)["data"]["alerts"]
            if item["state"] == "firing"
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise Unreadable(f"vmalert's /api/v1/alerts: {error!r}") from None
    return _sorted(found)


def _alert(
    labels: dict[str, str], annotations: dict[str, str], since: str, *, silenced: bool
) -> FiringAlert | None:
    name = labels["alertname"]
    if name == alerts.HEARTBEAT:
        return None
    return FiringAlert(
        name=name,
        type=labels.get(alerts.TYPE_LABEL, ""),
        severity=labels.get("severity", ""),
        subject=labels.get(alerts.DEVICE_LABEL, labels.get(alerts.SERVICE_LABEL, "")),
        summary=annotations.get("summary", ""),
        since=since,
        silenced=silenced,
    )


def _sorted(found: list[FiringAlert | None]) -> tuple[FiringAlert, ...]:
    # Shop alerts (the furnace) first, then by when they started.
    kept = [a for a in found if a is not None]
    return tuple(sorted(kept, key=lambda a: (a.type != alerts.SHOP, a.since, a.name, a.subject)))
