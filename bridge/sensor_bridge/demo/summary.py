"""The run in numbers: readings published against stored, each alert's timings, the pipeline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sensor_bridge.demo.actions import describe
from sensor_bridge.demo.alert_log import AlertRecord
from sensor_bridge.demo.scenarios import Step
from sensor_bridge.demo.stored import Series


@dataclass(frozen=True)
class StepDone:
    at: float
    """Wall-clock time the step ran."""
    step: Step

    @property
    def text(self) -> str:
        return describe(self.step.action, self.step.device)


@dataclass
class RunRecord:
    scenario: str
    unit: str
    """The site's temperature unit, "C" or "F"."""
    pipeline: str = "not started"
    started_at: float | None = None
    """When both furnaces published and the rules started: the scenario's zero."""
    ended_at: float | None = None
    interrupted: bool = False
    steps: list[StepDone] = field(default_factory=list)
    published: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    alerts: list[AlertRecord] = field(default_factory=list)
    heartbeats: int = 0
    temperature: dict[str, Series] = field(default_factory=dict)
    flame: dict[str, Series] = field(default_factory=dict)


POLL_S = 0.5
"""How often the run polls vmalert (``sensor_bridge.demo.run.TICK_S``)."""


def pipeline_text(kind: str) -> str:
    return "forwarder (Vector not installed)" if kind == "forwarder" else kind


def summary_lines(run: RunRecord) -> list[str]:
    length = (run.ended_at or time.time()) - (run.started_at or time.time())
    how = "interrupted" if run.interrupted else "completed"
    lines = [
        f"summary: scenario {run.scenario!r} {how} after {length:.0f} s; "
        f"pipeline: {pipeline_text(run.pipeline)}"
    ]
    for device, published in run.published.items():
        stored = run.stored.get(device, 0)
        verdict = "all stored" if stored == published else f"{published - stored:+d} missing"
        lines.append(f"readings {device}: published {published}, stored {stored} ({verdict})")
    shown = [record for record in run.alerts if record.firing_at or record.paged_at]
    lines += [_alert_line(record, run.steps) for record in shown]
    if not shown:
        lines.append("alerts: none fired")
    lines.append(f"heartbeat: {run.heartbeats} sent to IRM's heartbeat URL")
    return lines


def _alert_line(record: AlertRecord, steps: list[StepDone]) -> str:
    title = f"alert {record.name} {record.subject}".rstrip()
    parts = [f"{title} ({record.kind} → {record.route})"]
    fired = record.firing_at or record.paged_at
    assert fired is not None
    cause = _cause(record, steps, fired)
    if record.paged_at is None:
        parts.append("not paged")
    elif cause is not None:
        parts.append(f"paged {record.paged_at - cause.at:.1f} s after {cause.text!r}")
    else:
        parts.append("paged")
    if record.paged_at is not None and record.firing_at is not None:
        # vmalert is polled: a page that beats the poll counts as at once.
        latency = max(0.0, record.paged_at - record.firing_at)
        parts.append(f"vmalert firing → receiver {latency:.1f} s (±{POLL_S} s)")
    if record.resolved_at is not None:
        parts.append("resolved")
        if record.all_clear_at is not None:
            later = max(0.0, record.all_clear_at - record.resolved_at)
            parts.append(f"all-clear {later:.1f} s later")
    return "; ".join(parts)


def _cause(record: AlertRecord, steps: list[StepDone], fired: float) -> StepDone | None:
    """The newest step on the alert's device before it fired."""
    before = [s for s in steps if s.at <= fired and s.step.device == record.subject]
    return before[-1] if before else None
