"""Dead-letter counters as Vector's sink writes them (a sample only when dead letters arrive,
each label set born at 1), and how many dead letters each saw in the hour before ``EVAL_MIN``.
The same history is given to Prometheus (promtool) and to VictoriaMetrics, so both engines are
held to one answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sensor_bridge.alerting import alerts, dead_letters, rules
from sensor_bridge.render import dashboards
from sensor_bridge.site import Site

EVAL_MIN = 240
"""Minutes from the first sample to the evaluation: room for a sample hours before the hour."""


@dataclass(frozen=True)
class Reason:
    reason: str
    samples: dict[int, float]
    """Minute → the counter's value written then."""
    in_last_hour: int | None
    """What the query must say at EVAL_MIN; None: no dead letter in the hour, no series."""


REASONS = (
    # The finding: on Prometheus, increase() of a series born in the window ignores its first
    # sample; with a single sample it has no result at all.
    Reason("not_json", {EVAL_MIN - 30: 1}, 1),
    Reason("bad_version", {EVAL_MIN - 40: 1, EVAL_MIN - 10: 3}, 3),
    # Sparse: the last sample before the hour is far before it.
    Reason("bad_topic", {EVAL_MIN - 180: 4, EVAL_MIN - 20: 6}, 2),
    # Vector restarted since: its counter began again at 1.
    Reason("too_large", {EVAL_MIN - 150: 7, EVAL_MIN - 15: 2}, 2),
    Reason("not_utf8", {EVAL_MIN - 200: 2}, None),
)


def labels(site: Site, reason: Reason) -> dict[str, str]:
    return {"__name__": dead_letters.METRIC, "studio": site.studio, "reason": reason.reason}


def expected(site: Site) -> dict[str, int]:
    return {r.reason: r.in_last_hour for r in REASONS if r.in_last_hour is not None}


def total() -> int:
    return sum(r.in_last_hour or 0 for r in REASONS)


PANEL = "Dead letters by reason (per hour)"


def panel_expr(site: Site) -> str:
    """The rendered Pipeline-health panel's query."""
    board = json.loads(dashboards.to_json(dashboards.pipeline_health(site)))
    (panel,) = [p for p in board["panels"] if p["title"] == PANEL]
    (target,) = panel["targets"]
    expr: str = target["expr"]
    return expr


def alert_rule(site: Site, limit: int) -> dict[str, Any]:
    """The rendered dead-letter rule, for a site whose limit is ``limit`` an hour."""
    limited = site.model_copy(
        update={"alerts": site.alerts.model_copy(update={"dead_letters_per_hour": limit})}
    )
    (rule,) = [
        rule
        for group in rules.rules(limited)["groups"]
        for rule in group["rules"]
        if rule.get("alert") == alerts.DEAD_LETTERS
    ]
    return rule
