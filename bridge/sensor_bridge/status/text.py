"""The status screen: a headline with the verdict, then services, devices, alerts and, when
anything is wrong, the problems in plain words. Styled with click (plain when not a terminal)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sensor_bridge.alerting.units import in_unit
from sensor_bridge.dataflow import ONLINE
from sensor_bridge.status.report import (
    CANNOT_CHECK,
    DOWN,
    NOT_DEPLOYED,
    UNHEALTHY,
    DeviceStatus,
    Latest,
    Report,
    ServiceStatus,
)

_MARKS = {DOWN: "DOWN", UNHEALTHY: "FAIL", CANNOT_CHECK: "??", NOT_DEPLOYED: "--"}


def render(report: Report) -> str:
    problems = report.problems
    when = datetime.fromtimestamp(report.checked_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    verdict = (
        click.style(f"{len(problems)} problem{'s' * (len(problems) != 1)}", fg="red", bold=True)
        if problems
        else click.style("all well", fg="green", bold=True)
    )
    lines = [f"{report.studio}  {when}  {verdict}  (checked in {report.elapsed_s:.2f} s)", ""]
    lines += ["Services", *(_service(s) for s in report.services), ""]
    lines += ["Devices", *(line for d in report.devices for line in _device(report, d)), ""]
    lines += _alerts(report)
    if problems:
        lines += ["", "Problems", *(f"  - {problem}" for problem in problems)]
    return "\n".join(lines)


def _mark(ok: bool, text: str = "") -> str:
    if ok:
        return click.style(f"{text or 'ok':<4}", fg="green" if not text else None)
    return click.style(f"{text or 'FAIL':<4}", fg="red", bold=True)


def _service(status: ServiceStatus) -> str:
    mark = _mark(status.ok, _MARKS.get(status.state, ""))
    said = status.state if status.state in _MARKS else ""
    detail = ": ".join(part for part in (said, status.detail) if part)
    return f"  {mark}  {status.name:<16} {status.version or '-':<10} {detail}"


def _device(report: Report, device: DeviceStatus) -> list[str]:
    title = f"{device.id} ({device.name})" if device.name else device.id
    state = device.state if device.state is not None else "state unknown (broker not asked)"
    about = [state]
    if device.state == ONLINE:
        about.append(
            f"fw {device.firmware or '?'}" + (f" on {device.board}" if device.board else "")
        )
        reset = device.reset_reason or "?"
        about.append(f"reset {reset}" + (" (unexpected)" if device.unexpected_reset else ""))
    values = [
        _temperature(report, device.temperature_c),
        _value(report, "flame", device.flame_v, ".2f", " V"),
        _value(report, "buffer", device.buffer_depth, ".0f", ""),
        _newest(report, device.last_sample_age_s),
    ]
    mark = _mark(False, "??") if device.state is None else _mark(not device.problems)
    lines = [f"  {mark}  {title:<28} {', '.join(about)}"]
    lines.append(f"        {'  '.join(values)}")
    lines += [f"        {click.style(problem, fg='red')}" for problem in device.problems]
    return lines


def _newest(report: Report, age_s: float | None) -> str:
    if age_s is not None:
        return f"newest sample {_age(age_s)} ago"
    if report.samples_window is not None:
        return f"no sample in the last {report.samples_window}"
    return "newest sample unknown"


def _temperature(report: Report, latest: Latest | None) -> str:
    if latest is None:
        return "temperature -"
    value = in_unit(latest.value, report.temperature_unit)
    return f"{value:.1f} °{report.temperature_unit}{_old(report, latest)}"


def _value(report: Report, label: str, latest: Latest | None, spec: str, unit: str) -> str:
    if latest is None:
        return f"{label} -"
    return f"{label} {latest.value:{spec}}{unit}{_old(report, latest)}"


def _old(report: Report, latest: Latest) -> str:
    """A value older than the site's stale limit says how old it is."""
    return f" ({_age(latest.age_s)} ago)" if latest.age_s > report.stale_after_s else ""


def _alerts(report: Report) -> list[str]:
    alerts = report.alerts
    if alerts.source is None and not report.alerting_deployed:
        return ["Alerts", f"  {_mark(True, '--')}  not deployed here"]
    if alerts.source is None:
        return ["Alerts", f"  {_mark(False)}  unknown: neither Alertmanager nor vmalert answers"]
    firing = [a for a in alerts.firing if not a.silenced]
    muted = len(alerts.firing) - len(firing)
    head = f"Alerts (from {alerts.source}): {len(firing)} firing" + (
        f", {muted} silenced" if muted else ""
    )
    lines = [head]
    for alert in alerts.firing:
        mark = _mark(True, "mute") if alert.silenced else _mark(False, "FIRE")
        lines.append(
            f"  {mark}  {alert.type or '-':<6} {alert.name:<20} {alert.subject or '-':<14} "
            f"since {_since(alert.since, report.checked_at)}  {alert.summary}"
        )
    return lines


def _since(stamp: str, now: float) -> str:
    try:
        started = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return f"{started.astimezone(UTC):%H:%M:%S} ({_age(now - started.timestamp())})"


def _age(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} d"
