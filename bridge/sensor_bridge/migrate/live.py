"""The live pipeline's history: the migration writes only before it.

Legacy samples go under the live labels, so a legacy sample at or after a series' first live
sample would interleave with what the live pipeline stored (two furnaces' readings in one
curve, or a legacy value over a live one at the same millisecond). Each target series is
therefore migrated up to its **first live sample**: the earliest sample VictoriaMetrics held
for it before the migration first wrote. That moment is recorded in the state directory when a
run first writes (afterwards the store also holds migrated samples, which are earlier), and
kept by ``--fresh``, which forgets only the chunks. ``--past-live`` writes past it all the same.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from sensor_bridge.migrate.influxql import InfluxClient, identifier, time_condition
from sensor_bridge.migrate.mapping import Target
from sensor_bridge.migrate.plan import (
    NS_PER_MS,
    Chunk,
    Figures,
    Plan,
    PlannedSeries,
    TargetPlan,
    rfc3339,
    series_figures,
)
from sensor_bridge.store.client import Store

FIRST_LIVE = "first-live.json"


def first_sample_ns(store: Store, target: Target, after_ns: int | None, end_ns: int) -> int | None:
    """The time of the earliest sample ``store`` holds for exactly ``target``'s series after
    ``after_ns`` (None: from the start) up to ``end_ns``. An export, not a rollup query: it reads
    the stored samples themselves, and only those that overlap the legacy range."""
    start = None if after_ns is None else (after_ns // NS_PER_MS + 1) / 1000
    first: int | None = None
    for line in store.export_lines(target.selector(), start, end_ns / 1e9):
        # A series with an extra label is another series.
        if line["metric"] == target.label_dict() and line["timestamps"]:
            at = min(line["timestamps"])
            first = at if first is None else min(first, at)
    return None if first is None else first * NS_PER_MS


def first_live(
    directory: Path, store: Store, targets: Sequence[Target], end_ns: int, *, record: bool
) -> dict[Target, int]:
    """Target → its first live sample (ns) up to ``end_ns``, for the targets that have one: as
    recorded in ``directory``, else asked of ``store`` (and recorded there when ``record``).

    A target without one is recorded with how far it was checked: a later run that reaches
    further asks only about the time after, where no migrated sample can be yet."""
    path = directory / FIRST_LIVE
    try:
        known: dict[str, dict[str, int | None]] = json.loads(path.read_text())
    except FileNotFoundError:
        known = {}
    asked = False
    for target in targets:
        entry = known.get(str(target), {"first": None, "checked_to": None})
        checked_to = entry["checked_to"]
        if entry["first"] is None and (checked_to is None or checked_to < end_ns):
            first = first_sample_ns(store, target, checked_to, end_ns)
            known[str(target)] = {"first": first, "checked_to": end_ns}
            asked = True
    if record and asked:
        directory.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
        temporary.replace(path)
    return {t: ns for t in targets if (ns := known[str(t)]["first"]) is not None}


def bounded(plan: Plan, client: InfluxClient, firsts: Mapping[Target, int]) -> Plan:
    """``plan`` with each target's legacy samples at or after its first live sample left out:
    the figures the verification compares, the chunks' sample counts, and the limits the proxy
    applies; a series whose points all come after becomes not migrated, saying why."""
    limits = {
        t.target: firsts[t.target]
        for t in plan.targets
        if t.target in firsts and (t.influx.last_ns or 0) >= firsts[t.target]
    }
    if not limits or plan.start_ns is None or plan.end_ns is None:
        return plan
    held: dict[int, int] = defaultdict(int)
    kept: dict[PlannedSeries, PlannedSeries | None] = {}
    for target, first_ns in limits.items():
        for source in next(t for t in plan.targets if t.target == target).sources:
            before = _figures_before(client, source, plan.start_ns, first_ns)
            for index, count in _counts_from(client, source, first_ns, plan).items():
                held[index] += count
            kept[source] = replace(source, influx=before) if before.count else None
    series = tuple(
        _after_live(s, limits) if s in kept and kept[s] is None else kept.get(s) or s
        for s in plan.series
    )
    targets = []
    for target_plan in plan.targets:
        sources = tuple(k for s in target_plan.sources if (k := kept.get(s, s)) is not None)
        if sources:
            targets.append(TargetPlan(target_plan.target, sources))
    chunks = _chunks_less(plan, held)
    return replace(plan, series=series, targets=tuple(targets), chunks=chunks, live=limits)


def _figures_before(
    client: InfluxClient, source: PlannedSeries, start_ns: int, first_ns: int
) -> Figures:
    legacy = source.legacy
    found = series_figures(client, legacy.measurement, [legacy.field], start_ns, first_ns - 1)
    return found.get(legacy, Figures(0))


def _counts_from(
    client: InfluxClient, source: PlannedSeries, first_ns: int, plan: Plan
) -> dict[int, int]:
    """Grid index → points of ``source`` from ``first_ns`` to the plan's end."""
    legacy = source.legacy
    where = time_condition(first_ns, plan.end_ns)
    statement = (
        f"SELECT count({identifier(legacy.field)}) FROM {identifier(legacy.measurement)}"
        f"{where} GROUP BY time({plan.chunk_ns // 1000}u), * fill(none)"
    )
    counts: dict[int, int] = defaultdict(int)
    for series in client.query([statement])[0]:
        tags = tuple(sorted((k, v) for k, v in (series.get("tags") or {}).items() if v))
        if tags != legacy.tags:
            continue
        for at, count in series["values"]:
            counts[int(at) // plan.chunk_ns] += int(count or 0)
    return counts


def _after_live(source: PlannedSeries, limits: Mapping[Target, int]) -> PlannedSeries:
    assert source.target is not None
    first = rfc3339(limits[source.target])
    why = f"every point is at or after the first live sample of {source.target} ({first})"
    return replace(source, target=None, skipped=f"{why}; --past-live writes them")


def _chunks_less(plan: Plan, held: Mapping[int, int]) -> tuple[Chunk, ...]:
    """The chunks with the held-back samples taken out (empty ones dropped, renumbered)."""
    remaining = [
        (
            chunk.start_ns,
            chunk.end_ns,
            chunk.expected - held.get(chunk.start_ns // plan.chunk_ns, 0),
        )
        for chunk in plan.chunks
    ]
    return tuple(
        Chunk(position, start, end, expected)
        for position, (start, end, expected) in enumerate(
            [cell for cell in remaining if cell[2] > 0], start=1
        )
    )
