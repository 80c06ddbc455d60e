"""Proof, series by series: InfluxDB's figures (count, first and last point) against what
VictoriaMetrics holds for the target series over the same range.

VictoriaMetrics' side comes from the store's export (the raw samples after deduplication, one
JSON line per series and block), not from ``count_over_time``/``tfirst_over_time`` queries:
export has no lookbehind-window edges, no query latency offset and no result cache, so what it
counts is what is stored. A series is matched on its exact label set: the same name with an
extra label (say vmctl's ``db`` from an earlier raw import) is another series and is listed as
such. Times compare in milliseconds, VictoriaMetrics' precision.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sensor_bridge.migrate.mapping import Target
from sensor_bridge.migrate.plan import NS_PER_MS, Figures, Plan, TargetPlan, Value
from sensor_bridge.store.client import Store


@dataclass(frozen=True)
class Check:
    """One target series: both sides' figures and what differs (empty: verified)."""

    planned: TargetPlan
    stored: Figures
    problems: tuple[str, ...]
    other_series: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def _number(value: Value) -> float | None:
    if value is None or isinstance(value, str):
        return None
    return float(value)


def compare(influx: Figures, stored: Figures) -> tuple[str, ...]:
    """What differs between InfluxDB's and VictoriaMetrics' figures, in words."""
    if stored.count == 0:
        return ("missing in VictoriaMetrics",)
    problems = []
    if influx.count != stored.count:
        problems.append(f"count: InfluxDB {influx.count}, VictoriaMetrics {stored.count}")
    for what, legacy_ms, stored_ms, legacy_value, stored_value in (
        ("first", influx.first_ms, stored.first_ms, influx.first_value, stored.first_value),
        ("last", influx.last_ms, stored.last_ms, influx.last_value, stored.last_value),
    ):
        if legacy_ms != stored_ms:
            problems.append(
                f"{what} point: InfluxDB at {legacy_ms} ms, VictoriaMetrics at {stored_ms} ms"
            )
        elif _number(legacy_value) != _number(stored_value):
            problems.append(
                f"{what} value: InfluxDB {legacy_value!r}, VictoriaMetrics {stored_value!r}"
            )
    return tuple(problems)


def stored_figures(
    store: Store, target: Target, start_ms: int, end_ms: int
) -> tuple[Figures, list[str]]:
    """(Figures of the series with exactly ``target``'s labels, the other series the selector
    matched)."""
    wanted = target.label_dict()
    count = 0
    first: tuple[int, float] | None = None
    last: tuple[int, float] | None = None
    others: set[str] = set()
    for line in store.export_lines(target.selector(), start_ms / 1000, end_ms / 1000):
        metric = line["metric"]
        if metric != wanted:
            others.add(_selector(metric))
            continue
        count += len(line["timestamps"])
        for at, value in zip(line["timestamps"], line["values"], strict=True):
            if first is None or at < first[0]:
                first = (at, value)
            if last is None or at > last[0]:
                last = (at, value)
    if first is None or last is None:
        return Figures(0), sorted(others)
    return (
        Figures(count, first[0] * NS_PER_MS, last[0] * NS_PER_MS, first[1], last[1]),
        sorted(others),
    )


def _selector(metric: dict[str, str]) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{metric.get('__name__', '')}{{{labels}}}"


VISIBLE_WITHIN_S = 15.0
"""How long a series written moments ago may stay out of VictoriaMetrics' search after the
flush: seen here as every series missing once in three resumed runs, then found."""


def verify(plan: Plan, store: Store) -> list[Check]:
    """One check per target series of ``plan`` (the figures of its sources combined). A
    series InfluxDB has and the store does not show yet is asked again until it shows or
    ``VISIBLE_WITHIN_S`` has passed."""
    if plan.start_ns is None or plan.end_ns is None:
        return []
    deadline = time.monotonic() + VISIBLE_WITHIN_S
    while True:
        checks = _checks(plan, store, plan.start_ns // NS_PER_MS)
        hidden = [c for c in checks if c.planned.influx.count and not c.stored.count]
        if not hidden or time.monotonic() > deadline:
            return checks
        time.sleep(0.5)


def _checks(plan: Plan, store: Store, start_ms: int) -> list[Check]:
    checks = []
    for planned in plan.targets:
        # Up to the first live sample, when the target has one: the live ones are not legacy.
        end_ns = plan.end_ns_of(planned.target)
        assert end_ns is not None
        stored, others = stored_figures(store, planned.target, start_ms, end_ns // NS_PER_MS)
        checks.append(Check(planned, stored, compare(planned.influx, stored), tuple(others)))
    return checks
