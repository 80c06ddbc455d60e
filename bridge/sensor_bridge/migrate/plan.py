"""What a migration will do, read from InfluxDB before anything is written: every series of
every field with its type, point count and first/last points; the contract series each one
becomes, or why it is not migrated (string fields, fields without a mapping row); the time
chunks and how many samples each must carry.

Series come from ``SHOW FIELD KEYS`` (names and types) and ``SELECT count|first|last(field)
... GROUP BY *``, which yields exactly the series that hold points of that field in the range,
with their tags already split (no parsing of ``SHOW SERIES`` keys). The chunks are a grid
aligned on the epoch, the same buckets InfluxQL's ``GROUP BY time()`` counts in, so the grid
(and the record of chunks done) stays the same when a later run ends at a later time.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sensor_bridge.migrate.influxql import (
    InfluxClient,
    InfluxSource,
    identifier,
    time_condition,
)
from sensor_bridge.migrate.mapping import LegacySeries, MappingError, NameMap, Target

NS_PER_MS = 1_000_000
NUMERIC_TYPES = frozenset({"float", "integer", "unsigned", "boolean"})
STRING_FIELD = "string field: VictoriaMetrics stores numbers only"
NO_MAPPING = "no [[migrate.influx.fields]] row maps this field"

Value = float | int | bool | str | None


def rfc3339(ns: int | None) -> str:
    """``ns`` since the epoch as RFC 3339 UTC with milliseconds (VictoriaMetrics' precision)."""
    if ns is None:
        return "-"
    ms = ns // NS_PER_MS
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


@dataclass(frozen=True)
class Figures:
    """One series as one side holds it: point count, first and last point (time, value)."""

    count: int
    first_ns: int | None = None
    last_ns: int | None = None
    first_value: Value = None
    last_value: Value = None

    @property
    def first_ms(self) -> int | None:
        return None if self.first_ns is None else self.first_ns // NS_PER_MS

    @property
    def last_ms(self) -> int | None:
        return None if self.last_ns is None else self.last_ns // NS_PER_MS


@dataclass(frozen=True)
class PlannedSeries:
    """A legacy series, its figures in InfluxDB, and its target (None: not migrated, why)."""

    legacy: LegacySeries
    field_type: str
    influx: Figures
    target: Target | None
    skipped: str | None = None


@dataclass(frozen=True)
class TargetPlan:
    """One contract series and the legacy series that go into it (several when only a dropped
    tag told them apart), in time order, with their figures combined."""

    target: Target
    sources: tuple[PlannedSeries, ...]

    @property
    def influx(self) -> Figures:
        first, last = self.sources[0].influx, self.sources[-1].influx
        return Figures(
            sum(s.influx.count for s in self.sources),
            first.first_ns,
            last.last_ns,
            first.first_value,
            last.last_value,
        )

    @property
    def legacy(self) -> str:
        return " + ".join(str(s.legacy) for s in self.sources)


def group_targets(migrated: list[PlannedSeries]) -> tuple[list[TargetPlan], list[str]]:
    """The target series with their sources; and, in words, the targets whose sources overlap
    in time (merging those would mix their samples, and no count could prove the copy)."""
    sources: dict[Target, list[PlannedSeries]] = defaultdict(list)
    for series in migrated:
        assert series.target is not None
        sources[series.target].append(series)
    targets, problems = [], []
    for target, found in sources.items():
        ordered = sorted(found, key=lambda s: (s.influx.first_ns or 0, s.influx.last_ns or 0))
        for before, after in itertools.pairwise(ordered):
            if (after.influx.first_ns or 0) <= (before.influx.last_ns or 0):
                problems.append(
                    f"{before.legacy} and {after.legacy} would both become {target} and overlap "
                    f"in time ({rfc3339(after.influx.first_ns)} to "
                    f"{rfc3339(before.influx.last_ns)}): tell them apart with device_tag or "
                    "[migrate.influx.devices], or remove one from InfluxDB"
                )
        targets.append(TargetPlan(target, tuple(ordered)))
    return sorted(targets, key=lambda t: t.sources[0].legacy.sort_key), problems


@dataclass(frozen=True)
class Chunk:
    """``start_ns`` to ``end_ns`` (both inclusive) and the samples it holds for the targets."""

    index: int
    start_ns: int
    end_ns: int
    expected: int

    @property
    def key(self) -> str:
        return f"{self.start_ns}-{self.end_ns}"

    def describe(self) -> str:
        return f"{rfc3339(self.start_ns)} → {rfc3339(self.end_ns)}"


@dataclass(frozen=True)
class Plan:
    source: InfluxSource
    start_ns: int | None
    end_ns: int | None
    chunk_ns: int
    series: tuple[PlannedSeries, ...]
    targets: tuple[TargetPlan, ...]
    chunks: tuple[Chunk, ...]
    grid_size: int
    """How many chunks the range spans, empty ones included."""
    live: Mapping[Target, int] = dataclasses.field(default_factory=dict)
    """Target → its first live sample (ns), for the targets migrated only up to it
    (``migrate.live``)."""
    past_live: bool = False
    """``--past-live``: written past the first live samples (the report says so)."""

    def end_ns_of(self, target: Target) -> int | None:
        """Where ``target``'s migrated samples end: just before its first live sample, or the
        plan's end."""
        first = self.live.get(target)
        return self.end_ns if first is None else first - 1

    @property
    def migrated(self) -> list[PlannedSeries]:
        return [s for s in self.series if s.target is not None]

    @property
    def skipped(self) -> list[PlannedSeries]:
        return [s for s in self.series if s.target is None]

    @property
    def measurements(self) -> list[str]:
        """The measurements vmctl must read: those with a migrated series."""
        return sorted({s.legacy.measurement for s in self.migrated})

    @property
    def samples(self) -> int:
        return sum(chunk.expected for chunk in self.chunks)


def field_types(client: InfluxClient) -> dict[str, dict[str, set[str]]]:
    """measurement → field → its types (a field can hold different types in different shards)."""
    (series,) = client.query(["SHOW FIELD KEYS"])
    types: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for measurement in series:
        for field, field_type in measurement.get("values", []):
            types[measurement["name"]][field].add(field_type)
    return {m: dict(fields) for m, fields in types.items()}


def series_figures(
    client: InfluxClient,
    measurement: str,
    fields: list[str],
    start_ns: int | None,
    end_ns: int | None,
) -> dict[LegacySeries, Figures]:
    """Count, first and last point of every series of each of ``fields`` in the range."""
    where = time_condition(start_ns, end_ns)
    source = identifier(measurement)
    statements = [
        f"SELECT {function}({identifier(field)}) FROM {source}{where} GROUP BY *"
        for field in fields
        for function in ("count", "first", "last")
    ]
    answers = client.query(statements)
    figures: dict[LegacySeries, Figures] = {}
    for position, field in enumerate(fields):
        counts, firsts, lasts = answers[3 * position : 3 * position + 3]
        first = _points(firsts)
        last = _points(lasts)
        for key, rows in _by_tags(counts).items():
            count = int(rows[0][1] or 0)
            if count == 0:
                continue
            series = LegacySeries(measurement, field, key)
            first_ns, first_value = first.get(key, (None, None))
            last_ns, last_value = last.get(key, (None, None))
            figures[series] = Figures(count, first_ns, last_ns, first_value, last_value)
    return figures


def _by_tags(series: list[dict[str, Any]]) -> dict[tuple[tuple[str, str], ...], list[list[Any]]]:
    return {
        tuple(sorted((k, v) for k, v in (s.get("tags") or {}).items() if v)): s["values"]
        for s in series
    }


def _points(series: list[dict[str, Any]]) -> dict[tuple[tuple[str, str], ...], tuple[int, Value]]:
    return {key: (int(rows[0][0]), rows[0][1]) for key, rows in _by_tags(series).items()}


def chunk_counts(
    client: InfluxClient,
    fields: dict[str, list[str]],
    start_ns: int,
    end_ns: int,
    chunk_ns: int,
) -> dict[int, int]:
    """Grid index (``time // chunk_ns``) → points of ``fields`` (measurement → fields) in it."""
    where = time_condition(start_ns, end_ns)
    # InfluxQL durations go down to microseconds; site durations are whole milliseconds.
    interval = f"{chunk_ns // 1000}u"
    statements = [
        "SELECT "
        + ", ".join(f"count({identifier(f)})" for f in measurement_fields)
        + f" FROM {identifier(measurement)}{where} GROUP BY time({interval}) fill(none)"
        for measurement, measurement_fields in sorted(fields.items())
    ]
    counts: dict[int, int] = defaultdict(int)
    for answer in client.query(statements):
        for series in answer:
            for row in series["values"]:
                counts[int(row[0]) // chunk_ns] += sum(int(c or 0) for c in row[1:])
    return dict(counts)


def chunk_grid(start_ns: int, end_ns: int, chunk_ns: int) -> list[tuple[int, int, int]]:
    """(grid index, start, end) of each chunk from ``start_ns`` to ``end_ns``: epoch-aligned
    chunks of ``chunk_ns``, the first and last clipped to the range; ends inclusive."""
    first, last = start_ns // chunk_ns, end_ns // chunk_ns
    return [
        (index, max(start_ns, index * chunk_ns), min(end_ns, (index + 1) * chunk_ns - 1))
        for index in range(first, last + 1)
    ]


def build_plan(
    client: InfluxClient,
    names: NameMap,
    start_ns: int | None,
    end_ns: int | None,
    chunk_ns: int,
) -> Plan:
    """Everything the migration will do and check; MappingError before anything is written
    when a series cannot be given contract labels, or two that would become one overlap."""
    planned: list[PlannedSeries] = []
    problems: list[str] = []
    for measurement, fields in sorted(field_types(client).items()):
        figures = series_figures(client, measurement, sorted(fields), start_ns, end_ns)
        for legacy, influx in sorted(figures.items(), key=lambda item: item[0].sort_key):
            types = fields[legacy.field]
            field_type = "/".join(sorted(types))
            mapped = names.row(measurement, legacy.field) is not None
            if not types & NUMERIC_TYPES:
                planned.append(PlannedSeries(legacy, field_type, influx, None, STRING_FIELD))
            elif not mapped:
                planned.append(PlannedSeries(legacy, field_type, influx, None, NO_MAPPING))
            elif "string" in types:
                problems.append(
                    f"{legacy}: holds strings in some shards and numbers in others; vmctl "
                    "cannot read it"
                )
            else:
                try:
                    planned.append(PlannedSeries(legacy, field_type, influx, names.target(legacy)))
                except MappingError as error:
                    problems.append(str(error))
    migrated = [s for s in planned if s.target is not None]
    targets, overlaps = group_targets(migrated)
    problems += overlaps
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise MappingError(problems[0] + more)
    if not migrated:
        return Plan(client.source, start_ns, end_ns, chunk_ns, tuple(planned), (), (), 0)
    if start_ns is None:
        start_ns = min(s.influx.first_ns for s in migrated if s.influx.first_ns is not None)
    if end_ns is None:
        end_ns = max(s.influx.last_ns for s in migrated if s.influx.last_ns is not None)
    mapped_fields: dict[str, set[str]] = defaultdict(set)
    for series in migrated:
        mapped_fields[series.legacy.measurement].add(series.legacy.field)
    counts = chunk_counts(
        client, {m: sorted(f) for m, f in mapped_fields.items()}, start_ns, end_ns, chunk_ns
    )
    grid = chunk_grid(start_ns, end_ns, chunk_ns)
    chunks = tuple(
        Chunk(position, start, end, counts[index])
        for position, (index, start, end) in enumerate(
            [cell for cell in grid if counts.get(cell[0])], start=1
        )
    )
    return Plan(
        client.source, start_ns, end_ns, chunk_ns, tuple(planned), tuple(targets), chunks, len(grid)
    )
