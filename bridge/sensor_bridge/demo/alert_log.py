"""Each alert's life in the run, from two sources: vmalert's API (pending, firing, gone) and the
receiver standing in for Grafana IRM (who was paged, and when the all-clear came).

Times are wall-clock (time.time()). vmalert is polled (every ``sensor_bridge.demo.run.TICK_S``),
so its pending, firing and resolved times are that precise; its API has no better one (its
``activeAt`` is the evaluation's data time: whole seconds, ``latency_offset`` in the past). The
receiver's times are exact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sensor_bridge.alerting import alerts
from sensor_bridge.local.receiver import Notified
from sensor_bridge.render.alertmanager import HEARTBEAT, OWNER, SUPPORT

ROUTES = {alerts.SHOP: OWNER, alerts.SYSTEM: SUPPORT}
"""Who an alert pages by its type label, as Alertmanager's routes say."""


@dataclass
class AlertRecord:
    name: str
    subject: str
    """The device (or service) it is about; empty for the Pi itself."""
    kind: str
    pending_at: float | None = None
    firing_at: float | None = None
    paged_at: float | None = None
    paged: str | None = None
    """The receiver path it reached: owner, support."""
    resolved_at: float | None = None
    all_clear_at: float | None = None

    @property
    def route(self) -> str:
        return self.paged or ROUTES.get(self.kind, SUPPORT)

    @property
    def state(self) -> str:
        if self.resolved_at is not None:
            return "resolved"
        return "firing" if self.firing_at is not None else "pending"

    def key(self) -> tuple[str, str]:
        return self.name, self.subject


class AlertLog:
    def __init__(self) -> None:
        self.records: list[AlertRecord] = []
        self._active: dict[tuple[str, str], AlertRecord] = {}
        self._seen_notifications = 0
        self.heartbeats = 0

    def active(self) -> list[AlertRecord]:
        return list(self._active.values())

    def update(self, vmalert: list[dict[str, Any]], notified: list[Notified]) -> list[str]:
        """Take vmalert's current alerts and every notification so far; what changed, as lines."""
        now = time.time()
        news: list[str] = []
        listed: set[tuple[str, str]] = set()
        for alert in vmalert:
            labels = alert.get("labels", {})
            if alert["name"] == alerts.HEARTBEAT:
                continue
            record = self._record(alert["name"], labels)
            listed.add(record.key())
            if record.pending_at is None:
                record.pending_at = now
                if alert["state"] == "pending":
                    news.append(f"{_title(record)} pending")
            if alert["state"] == "firing" and record.firing_at is None:
                record.firing_at = now
                news.append(f"{_title(record)} FIRING ({record.kind}, pages {record.route})")
        for key in [key for key in self._active if key not in listed]:
            record = self._active.pop(key)
            if record.pending_at is None:
                continue  # known from a notification only; vmalert never listed it
            record.resolved_at = now
            news.append(f"{_title(record)} resolved in vmalert")
        for notification in notified[self._seen_notifications :]:
            news += self._notified(notification)
        self._seen_notifications = len(notified)
        return news

    def _record(self, name: str, labels: dict[str, str]) -> AlertRecord:
        subject = labels.get(alerts.DEVICE_LABEL) or labels.get(alerts.SERVICE_LABEL) or ""
        record = self._active.get((name, subject))
        if record is None:
            record = AlertRecord(name, subject, labels.get(alerts.TYPE_LABEL, ""))
            self._active[record.key()] = record
            self.records.append(record)
        return record

    def _notified(self, notification: Notified) -> list[str]:
        labels = notification.labels
        name = labels.get("alertname", "")
        if name == alerts.HEARTBEAT:
            self.heartbeats += 1
            return [] if self.heartbeats > 1 else [f"heartbeat reaches {HEARTBEAT}"]
        at = time.time() - (time.monotonic() - notification.at)
        subject = labels.get(alerts.DEVICE_LABEL) or labels.get(alerts.SERVICE_LABEL) or ""
        record = next((r for r in reversed(self.records) if r.key() == (name, subject)), None)
        if record is None:
            record = self._record(name, labels)
        if notification.status == "firing" and record.paged_at is None:
            record.paged_at, record.paged = at, notification.path
            return [f"{_title(record)} paged {notification.path}"]
        if notification.status == "resolved" and record.all_clear_at is None:
            record.all_clear_at = at
            return [f"{_title(record)} all-clear sent to {notification.path}"]
        return []


def _title(record: AlertRecord) -> str:
    return f"{record.name} {record.subject}".rstrip()
