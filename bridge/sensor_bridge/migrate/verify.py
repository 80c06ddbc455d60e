"""Proof, series by series: InfluxDB's figures (count, first and last point) against what
VictoriaMetrics holds for the target series over the same range.

VictoriaMetrics' side comes from ``/api/v1/export`` (the raw samples after deduplication, one
JSON line per series and block), not from ``count_over_time``/``tfirst_over_time`` queries:
export has no lookbehind-window edges, no query latency offset and no result cache, so what it
counts is what is stored. A series is matched on its exact label set: the same name with an
extra label (say vmctl's ``db`` from an earlier raw import) is another series and is listed as
such. Times compare in milliseconds, VictoriaMetrics' precision.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

from sensor_bridge.errors import BridgeError
from sensor_bridge.migrate.mapping import Target
from sensor_bridge.migrate.plan import NS_PER_MS, Figures, Plan, TargetPlan, Value

EXPORT_ROWS_PER_LINE = 100_000
"""Bounds the memory one export line takes, whatever the series' length."""
TIMEOUT_S = 300.0


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


def export_lines(
    vm_url: str, target: Target, start_ms: int, end_ms: int
) -> Iterator[dict[str, object]]:
    """The export of every series ``target``'s selector matches, between the bounds (inclusive)."""
    params = {
        "match[]": target.selector(),
        "start": f"{start_ms / 1000:.3f}",
        "end": f"{end_ms / 1000:.3f}",
        "max_rows_per_line": str(EXPORT_ROWS_PER_LINE),
    }
    url = f"{vm_url.rstrip('/')}/api/v1/export?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            for line in response:
                if line.strip():
                    yield json.loads(line)
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        raise BridgeError(f"VictoriaMetrics at {vm_url} refused the export: {detail}") from None
    except (OSError, ValueError) as error:
        raise BridgeError(f"cannot export from VictoriaMetrics at {vm_url}: {error}") from None


def stored_figures(
    vm_url: str, target: Target, start_ms: int, end_ms: int
) -> tuple[Figures, list[str]]:
    """(Figures of the series with exactly ``target``'s labels, the other series the selector
    matched)."""
    wanted = target.label_dict()
    count = 0
    first: tuple[int, float] | None = None
    last: tuple[int, float] | None = None
    others: set[str] = set()
    for line in export_lines(vm_url, target, start_ms, end_ms):
        metric = line["metric"]
        assert isinstance(metric, dict)
        if metric != wanted:
            others.add(_selector(metric))
            continue
        timestamps = line["timestamps"]
        values = line["values"]
        assert isinstance(timestamps, list) and isinstance(values, list)
        count += len(timestamps)
        for at, value in zip(timestamps, values, strict=True):
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


def verify(plan: Plan, vm_url: str) -> list[Check]:
    """One check per target series of ``plan`` (the figures of its sources combined)."""
    if plan.start_ns is None or plan.end_ns is None:
        return []
    start_ms, end_ms = plan.start_ns // NS_PER_MS, plan.end_ns // NS_PER_MS
    checks = []
    for planned in plan.targets:
        stored, others = stored_figures(vm_url, planned.target, start_ms, end_ms)
        checks.append(Check(planned, stored, compare(planned.influx, stored), tuple(others)))
    return checks
