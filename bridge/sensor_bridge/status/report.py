"""What ``status`` found, the problems it adds up to, and its JSON (no I/O here).

A report holds one line per service, one entry per device of the site and the firing alerts.
Every problem is a sentence a support engineer can act on; any problem makes the exit status
``EXIT_WRONG``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sensor_bridge.dataflow import OFFLINE, STALE, UNKNOWN
from sensor_bridge.registry import ALERTMANAGER, VMALERT

EXIT_OK = 0
"""Every deployed service answers and is healthy, every device is online with fresh data, and
no alert fires (silenced ones aside)."""
EXIT_WRONG = 1
"""Something above is not so; the problems say what."""

UP = "up"
UNHEALTHY = "unhealthy"
"""It answers, but says it is not well (or refuses the login from the secrets file)."""
DOWN = "not running"
"""Deployed here, yet it does not answer."""
NOT_DEPLOYED = "not deployed here"
"""It does not answer, and the file the deploy installs for it is not on this machine."""
CANNOT_CHECK = "cannot check"
"""The probe lacks what it needs to ask (a login from the secrets file)."""
_FINE = (UP, NOT_DEPLOYED)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    state: str
    version: str | None = None
    detail: str = ""
    """One line: what it said (clients connected, checks failing) or why it did not."""

    @property
    def ok(self) -> bool:
        return self.state in _FINE


@dataclass(frozen=True)
class Latest:
    """A metric's newest stored value and how old it is."""

    value: float
    age_s: float


@dataclass(frozen=True)
class DeviceStatus:
    id: str
    name: str
    state: str | None
    """The broker's retained status: ``online``, ``offline``, ``unknown`` (never connected),
    or None when the broker could not be asked."""
    firmware: str | None
    board: str | None
    reset_reason: str | None
    """Why it last booted, from its birth message (gone once it is offline)."""
    unexpected_reset: bool
    last_sample_age_s: float | None
    """Its newest stored sample of any kind; None: none in the window (or not asked)."""
    temperature_c: Latest | None
    flame_v: Latest | None
    buffer_depth: Latest | None
    flow: str | None
    """The data-flow verdict (``sensor_bridge.dataflow``); None when it could not be made."""

    @property
    def problems(self) -> list[str]:
        found = []
        if self.state == OFFLINE:
            found.append("offline: the broker lost it (its last will)")
        elif self.state == UNKNOWN:
            found.append("never connected to this broker (no retained status)")
        if self.flow == STALE:
            found.append("online, but no fresh samples in VictoriaMetrics: the pipeline stalled")
        return found


@dataclass(frozen=True)
class FiringAlert:
    name: str
    type: str
    severity: str
    subject: str
    """The device (or service) it is about; empty when neither."""
    summary: str
    since: str
    """RFC 3339, as the alerting service gave it."""
    silenced: bool
    """Silenced or inhibited: known and muted, not a problem here."""


@dataclass(frozen=True)
class Alerts:
    source: str | None
    """The service asked (Alertmanager, else vmalert); None: neither answered."""
    firing: tuple[FiringAlert, ...] = ()


@dataclass(frozen=True)
class Report:
    studio: str
    checked_at: float
    elapsed_s: float
    temperature_unit: str
    """The site's display unit, ``C`` or ``F``; values stay Celsius in the report."""
    stale_after_s: float
    """The site's ``monit.stale_after``: a value older than this is shown with its age."""
    services: tuple[ServiceStatus, ...]
    devices: tuple[DeviceStatus, ...]
    alerts: Alerts
    samples_problem: str | None = None
    """Why the devices' samples are unknown although VictoriaMetrics answers, if they are."""
    samples_window: str | None = None
    """How far back the samples were looked for; None when they could not be read."""

    @property
    def problems(self) -> list[str]:
        found = [
            f"{s.name}: {s.state}" + (f": {s.detail}" if s.detail else "")
            for s in self.services
            if not s.ok
        ]
        if all(s.state == NOT_DEPLOYED for s in self.services):
            found.append("no service of the pipeline is deployed here, and none answers")
        if self.samples_problem:
            found.append(self.samples_problem)
        found += [f"{d.id}: {problem}" for d in self.devices for problem in d.problems]
        if self.alerts.source is None and self.alerting_deployed:
            found.append("alerts: unknown, neither Alertmanager nor vmalert answers")
        found += [
            f"alert {a.name} firing" + (f" on {a.subject}" if a.subject else "")
            for a in self.alerts.firing
            if not a.silenced
        ]
        return found

    @property
    def alerting_deployed(self) -> bool:
        """Whether Alertmanager or vmalert is deployed here (else no alerts is no problem)."""
        return any(
            s.state != NOT_DEPLOYED
            for s in self.services
            if s.name in (ALERTMANAGER.name, VMALERT.name)
        )

    @property
    def exit_code(self) -> int:
        return EXIT_WRONG if self.problems else EXIT_OK


def as_json(report: Report) -> dict[str, Any]:
    """The report for scripts: every field, the problems, the exit status."""
    return {
        **asdict(report),
        "services": [{**asdict(s), "ok": s.ok} for s in report.services],
        "devices": [{**asdict(d), "problems": d.problems} for d in report.devices],
        "problems": report.problems,
        "exit": report.exit_code,
    }
