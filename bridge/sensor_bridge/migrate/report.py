"""The migration report: every series with both sides' figures, and every series not migrated
with the reason, as JSON (for scripts) and Markdown (for the owner's records). Pure functions
of the plan and the checks."""

from __future__ import annotations

from typing import Any

from sensor_bridge.migrate.plan import Figures, Plan, PlannedSeries, rfc3339
from sensor_bridge.migrate.verify import Check


def _figures(figures: Figures) -> dict[str, Any]:
    return {
        "count": figures.count,
        "first": rfc3339(figures.first_ns) if figures.first_ns is not None else None,
        "last": rfc3339(figures.last_ns) if figures.last_ns is not None else None,
        "first_value": figures.first_value,
        "last_value": figures.last_value,
    }


def _legacy(planned: PlannedSeries) -> dict[str, Any]:
    legacy = planned.legacy
    return {
        "measurement": legacy.measurement,
        "field": legacy.field,
        "tags": dict(legacy.tags),
        "type": planned.field_type,
    }


def as_json(plan: Plan, checks: list[Check], vm_url: str) -> dict[str, Any]:
    return {
        "ok": all(check.ok for check in checks),
        "source": {
            "url": plan.source.url,
            "database": plan.source.database,
            "retention_policy": plan.source.retention_policy,
        },
        "target": vm_url,
        "range": {"start": rfc3339(plan.start_ns), "end": rfc3339(plan.end_ns)},
        "samples": plan.samples,
        "past_live": plan.past_live,
        "series": [
            {
                "target": str(check.planned.target),
                "legacy": [
                    {**_legacy(source), "influxdb": _figures(source.influx)}
                    for source in check.planned.sources
                ],
                "influxdb": _figures(check.planned.influx),
                "victoriametrics": _figures(check.stored),
                "first_live": _first_live(plan, check),
                "ok": check.ok,
                "problems": list(check.problems),
                "other_series": list(check.other_series),
            }
            for check in checks
        ],
        "not_migrated": [
            {**_legacy(s), "influxdb": _figures(s.influx), "reason": s.skipped}
            for s in plan.skipped
        ],
    }


def _first_live(plan: Plan, check: Check) -> str | None:
    """The first live sample the target was migrated up to (None: not bounded)."""
    first = plan.live.get(check.planned.target)
    return None if first is None else rfc3339(first)


def live_lines(plan: Plan) -> list[str]:
    """How the migration stands to the live pipeline's data, in words."""
    if plan.past_live:
        return [
            "--past-live: legacy samples are written past each series' first live sample too "
            "(they interleave with live data)"
        ]
    if not plan.live:
        return ["no migrated series reaches a live sample: nothing held back"]
    lines = [f"{len(plan.live)} series migrated only up to their first live sample:"]
    for target, first in sorted(plan.live.items()):
        lines.append(f"  {target}: first live sample {rfc3339(first)}")
    lines.append("  later legacy samples are not written (--past-live writes them)")
    return lines


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def as_markdown(plan: Plan, checks: list[Check], vm_url: str) -> str:
    failed = [check for check in checks if not check.ok]
    verdict = (
        f"**{len(failed)} of {len(checks)} series differ**"
        if failed
        else f"**all {len(checks)} series verified**"
    )
    lines = [
        "# InfluxDB → VictoriaMetrics migration report",
        "",
        f"- Source: {plan.source.url}, database `{plan.source.database}`, retention policy "
        f"`{plan.source.retention_policy}`",
        f"- Target: {vm_url}",
        f"- Range: {rfc3339(plan.start_ns)} → {rfc3339(plan.end_ns)}",
        f"- Samples migrated: {plan.samples}",
        f"- Verdict: {verdict}; {len(plan.skipped)} series not migrated (listed below)",
        "",
        "## Live data",
        "",
        *live_lines(plan),
        "",
        "## Migrated series",
        "",
        "| legacy series | target | InfluxDB count | VM count | InfluxDB first | VM first "
        "| InfluxDB last | VM last | result |",
        "|---|---|---:|---:|---|---|---|---|---|",
    ]
    for check in checks:
        influx, stored = check.planned.influx, check.stored
        result = "ok" if check.ok else "**" + "; ".join(check.problems) + "**"
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    " + ".join(f"`{source.legacy}`" for source in check.planned.sources),
                    f"`{check.planned.target}`",
                    influx.count,
                    stored.count,
                    rfc3339(influx.first_ns),
                    rfc3339(stored.first_ns),
                    rfc3339(influx.last_ns),
                    rfc3339(stored.last_ns),
                    result,
                )
            )
            + " |"
        )
    others = sorted({other for check in checks for other in check.other_series})
    if others:
        lines += [
            "",
            "Other series in VictoriaMetrics with the same name and labels plus more (not "
            "from this migration, e.g. an earlier import with vmctl's `db` label):",
            "",
            *[f"- `{other}`" for other in others],
        ]
    lines += ["", "## Not migrated", ""]
    if plan.skipped:
        lines += [
            "| legacy series | type | points | first | last | reason |",
            "|---|---|---:|---|---|---|",
            *[
                "| "
                + " | ".join(
                    _cell(c)
                    for c in (
                        f"`{s.legacy}`",
                        s.field_type,
                        s.influx.count,
                        rfc3339(s.influx.first_ns),
                        rfc3339(s.influx.last_ns),
                        s.skipped,
                    )
                )
                + " |"
                for s in plan.skipped
            ],
        ]
    else:
        lines.append("Nothing: every series was migrated.")
    return "\n".join(lines) + "\n"


def plan_lines(plan: Plan, chunk: str, version: str) -> list[str]:
    """The plan in words: range and chunks, each series with its figures and its target, the
    series not migrated and why (``chunk``: the chunk length as the site wrote it;
    ``version``: InfluxDB's)."""
    lines = [
        f"InfluxDB {version} at {plan.source.url}, database {plan.source.database}, retention "
        f"policy {plan.source.retention_policy}",
    ]
    if plan.start_ns is None:
        lines.append("nothing to migrate: no series of a mapped field holds points")
    else:
        lines.append(
            f"range {rfc3339(plan.start_ns)} → {rfc3339(plan.end_ns)}: {plan.grid_size} chunks "
            f"of {chunk}, {len(plan.chunks)} with data, {plan.samples} samples"
        )
    lines.append(f"migrate {len(plan.migrated)} series into {len(plan.targets)}:")
    for target in plan.targets:
        for s in target.sources:
            lines.append(
                f"  {s.legacy} ({s.field_type}, {s.influx.count} points, "
                f"{rfc3339(s.influx.first_ns)} → {rfc3339(s.influx.last_ns)})"
            )
        lines.append(f"    → {target.target}")
    lines += live_lines(plan)
    lines.append(f"not migrated {len(plan.skipped)} series:")
    for s in plan.skipped:
        lines.append(f"  {s.legacy} ({s.field_type}, {s.influx.count} points): {s.skipped}")
    return lines
