"""The migration's pure parts: the name mapping and its refusals, the proxy's relabeling of
vmctl's import lines, the chunk grid, vmctl's command line, the figures comparison, the chunk
record and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from sensor_bridge.commands.migrate import _instant_ns
from sensor_bridge.migrate import vmctl
from sensor_bridge.migrate.influxql import InfluxSource, identifier, string, time_condition
from sensor_bridge.migrate.mapping import LegacySeries, MappingError, NameMap, Target
from sensor_bridge.migrate.plan import (
    NO_MAPPING,
    STRING_FIELD,
    Chunk,
    Figures,
    Plan,
    PlannedSeries,
    TargetPlan,
    chunk_grid,
    group_targets,
    rfc3339,
)
from sensor_bridge.migrate.relabel import ImportRefused, relabel_body, relabel_line
from sensor_bridge.migrate.report import as_json, as_markdown, plan_lines
from sensor_bridge.migrate.state import ChunkLog, fingerprint
from sensor_bridge.migrate.verify import Check, compare
from sensor_bridge.site import InfluxMigration, LegacyField

STUDIO = "studio-1"
MS = 1_000_000


def _config(**overrides: object) -> InfluxMigration:
    return InfluxMigration.model_validate(overrides)


def _names(**overrides: object) -> NameMap:
    return NameMap(_config(**overrides), STUDIO)


def test_defaults_map_the_legacy_layout_to_the_contract_names_and_labels() -> None:
    target = _names().target(
        LegacySeries.of("furnace", "furnace_temp", {"device": "furnace-1", "host": "pi"})
    )
    assert target.label_dict() == {
        "__name__": "furnace_furnace_temp",
        "device": "furnace-1",
        "studio": STUDIO,
    }
    assert target.selector() == 'furnace_furnace_temp{device="furnace-1",studio="studio-1"}'


def test_device_names_studio_tag_default_device_and_constant_labels() -> None:
    names = _names(
        devices={"Furnace One": "furnace-1"},
        default_device="glory-hole",
        studio_tag="site",
        fields=[
            {
                "measurement": "tc",
                "field": "open",
                "metric": "furnace_thermocouple_fault",
                "labels": {"fault": "open_tc"},
            }
        ],
    )
    mapped = names.target(LegacySeries.of("tc", "open", {"device": "Furnace One", "site": "b"}))
    assert mapped.labels == (("device", "furnace-1"), ("fault", "open_tc"), ("studio", "b"))
    untagged = names.target(LegacySeries.of("tc", "open", {"site": "b"}))
    assert dict(untagged.labels)["device"] == "glory-hole"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({}, "no 'device' tag: set [migrate.influx] default_device"),
        ({"device": "Furnace 1"}, "device 'Furnace 1' is not an id"),
    ],
)
def test_a_series_without_a_device_id_is_refused_naming_it(
    tags: dict[str, str], expected: str
) -> None:
    series = LegacySeries.of("furnace", "furnace_temp", tags)
    with pytest.raises(MappingError) as caught:
        _names().target(series)
    assert str(caught.value).startswith(f"{series}: ")
    assert expected in str(caught.value)


def _planned(host: str, first_s: int, last_s: int, count: int) -> PlannedSeries:
    legacy = LegacySeries.of("furnace", "furnace_temp", {"device": "furnace-1", "host": host})
    figures = Figures(count, first_s * 10**9, last_s * 10**9, float(first_s), float(last_s))
    return PlannedSeries(legacy, "float", figures, _names().target(legacy))


def test_series_told_apart_only_by_a_dropped_tag_merge_when_their_times_do_not_overlap() -> None:
    old, new = _planned("old", 100, 200, 5), _planned("new", 201, 300, 7)
    (merged,), problems = group_targets([new, old])
    assert problems == []
    assert merged.sources == (old, new)
    assert merged.influx == Figures(12, 100 * 10**9, 300 * 10**9, 100.0, 300.0)
    assert merged.legacy == (
        "furnace,device=furnace-1,host=old furnace_temp + "
        "furnace,device=furnace-1,host=new furnace_temp"
    )
    _, overlapping = group_targets([old, _planned("new", 200, 300, 7)])
    assert overlapping == [
        "furnace,device=furnace-1,host=old furnace_temp and furnace,device=furnace-1,host=new "
        'furnace_temp would both become furnace_furnace_temp{device="furnace-1",'
        'studio="studio-1"} and overlap in time (1970-01-01T00:03:20.000Z to '
        "1970-01-01T00:03:20.000Z): tell them apart with device_tag or "
        "[migrate.influx.devices], or remove one from InfluxDB"
    ]


def test_the_site_table_is_checked() -> None:
    with pytest.raises(ValidationError, match="did you mean 'furnace_furnace_temp'"):
        LegacyField(measurement="m", field="f", metric="furnace_furnace_tmp")
    with pytest.raises(ValidationError, match="cannot be a constant label"):
        LegacyField(
            measurement="m", field="f", metric="furnace_flame_volts", labels={"device": "x"}
        )
    row = {"measurement": "m", "field": "f", "metric": "furnace_flame_volts"}
    with pytest.raises(ValidationError, match=r"field m\.f is mapped twice"):
        _config(fields=[row, row])


def _vmctl_line(name: str, labels: dict[str, str], samples: int = 2) -> bytes:
    metric = json.dumps({"__name__": name, **labels})
    stamps = ",".join(str(1735689600000 + i) for i in range(samples))
    values = ",".join(str(float(i)) for i in range(samples))
    return f'{{"metric":{metric},"timestamps":[{stamps}],"values":[{values}]}}'.encode()


def test_the_proxy_relabels_vmctl_lines_and_drops_unmapped_fields() -> None:
    sep = vmctl.SEPARATOR
    body = b"\n".join(
        [
            _vmctl_line(f"furnace{sep}furnace_temp", {"device": "furnace-1", "host": "pi"}, 3),
            _vmctl_line(f"furnace{sep}free_mem", {"device": "furnace-1"}, 2),
            b"",
        ]
    )
    forwarded, kept, dropped = relabel_body(body, _names())
    assert (kept, dropped) == (3, 2)
    (line,) = forwarded.splitlines()
    assert json.loads(line) == {
        "metric": {"__name__": "furnace_furnace_temp", "device": "furnace-1", "studio": STUDIO},
        "values": [0.0, 1.0, 2.0],
        "timestamps": [1735689600000, 1735689600001, 1735689600002],
    }


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"not json", "unreadable import line"),
        (_vmctl_line("furnace_furnace_temp", {"device": "furnace-1"}), "lacks the measurement"),
        (_vmctl_line(f"furnace{vmctl.SEPARATOR}furnace_temp", {}), "no 'device' tag"),
    ],
)
def test_the_proxy_refuses_what_it_cannot_map(line: bytes, expected: str) -> None:
    with pytest.raises(ImportRefused, match=expected):
        relabel_line(line, _names())


def test_chunks_are_epoch_aligned_clipped_and_end_before_the_next_begins() -> None:
    day = 86400 * 10**9
    assert chunk_grid(15 * day + 5, 31 * day, 10 * day) == [
        (1, 15 * day + 5, 20 * day - 1),
        (2, 20 * day, 30 * day - 1),
        (3, 30 * day, 31 * day),
    ]
    assert chunk_grid(3, 3, day) == [(0, 3, 3)]


def test_vmctl_reads_one_chunk_of_the_mapped_measurements_with_the_login_kept_off_argv() -> None:
    source = InfluxSource("http://127.0.0.1:8086", "furnace", "autogen", ("admin", "secret"))
    chunk = Chunk(1, 1735689600_000000250, 1738281599_999999999, 10)
    args = vmctl.argv(Path("/usr/bin/vmctl"), source, ["furnace", 'we"ird'], chunk, "http://p")
    assert args[:3] == ["/usr/bin/vmctl", "influx", "-s"]
    assert "--influx-filter-time-start=2025-01-01T00:00:00.000000250Z" in args
    assert "--influx-filter-time-end=2025-01-30T23:59:59.999999999Z" in args
    assert '--influx-filter-series=from "furnace","we\\"ird"' in args
    assert "--influx-skip-database-label" in args
    assert "--vm-addr=http://p" in args
    assert not any("secret" in arg or "admin" in arg for arg in args)


def test_influxql_quoting() -> None:
    assert identifier('a "b"\\') == '"a \\"b\\"\\\\"'
    assert string("it's") == "'it\\'s'"
    assert time_condition(None, None) == ""
    assert time_condition(5, None) == " WHERE time >= 5"
    assert time_condition(5, 9) == " WHERE time >= 5 AND time <= 9"


def test_figures_compare_in_milliseconds_and_name_each_difference() -> None:
    influx = Figures(3, 1000 * MS + 250, 3000 * MS, 1.5, True)
    assert compare(influx, Figures(3, 1000 * MS, 3000 * MS, 1.5, 1.0)) == ()
    assert compare(influx, Figures(0)) == ("missing in VictoriaMetrics",)
    assert compare(influx, Figures(2, 1000 * MS, 2000 * MS, 1.5, 1.0)) == (
        "count: InfluxDB 3, VictoriaMetrics 2",
        "last point: InfluxDB at 3000 ms, VictoriaMetrics at 2000 ms",
    )
    assert compare(influx, Figures(3, 1000 * MS, 3000 * MS, 2.5, 1.0)) == (
        "first value: InfluxDB 1.5, VictoriaMetrics 2.5",
    )


def test_the_chunk_record_is_kept_per_fingerprint_and_redone_when_the_chunk_grew(
    tmp_path: Path,
) -> None:
    chunk = Chunk(1, 0, 10, 5)
    log = ChunkLog(tmp_path / "state")
    assert log.done(chunk) is None
    log.record(chunk, 0.25)
    record = log.done(chunk)
    assert record is not None and record["samples"] == 5
    assert log.done(Chunk(1, 0, 10, 6)) is None
    assert log.forget() == 1 and log.done(chunk) is None
    base = fingerprint(_config(), "http://a:8086", "furnace", "http://vm:8428")
    assert base == fingerprint(_config(), "http://a:8086", "furnace", "http://vm:8428/")
    assert base != fingerprint(_config(), "http://a:8086", "furnace", "http://other:8428")
    assert base != fingerprint(
        _config(device_tag="sensor"), "http://a:8086", "furnace", "http://vm:8428"
    )


def _plan() -> tuple[Plan, list[Check]]:
    names = _names()
    temp = LegacySeries.of("furnace", "furnace_temp", {"device": "furnace-1"})
    flame = LegacySeries.of("furnace", "flame_voltage", {"device": "furnace-1"})
    state = LegacySeries.of("furnace", "state", {"device": "furnace-1"})
    influx = Figures(2, 1735689600000 * MS, 1735689660000 * MS, 1000.0, 1001.0)
    migrated = [
        PlannedSeries(temp, "float", influx, names.target(temp)),
        PlannedSeries(flame, "float", influx, names.target(flame)),
    ]
    targets = [TargetPlan(names.target(s.legacy), (s,)) for s in migrated]
    skipped = PlannedSeries(state, "string", Figures(4, 0, 0, "ok", "ok"), None, STRING_FIELD)
    source = InfluxSource("http://127.0.0.1:8086", "furnace")
    chunk = Chunk(1, influx.first_ns or 0, influx.last_ns or 0, 4)
    plan = Plan(
        source,
        influx.first_ns,
        influx.last_ns,
        86400 * 10**9,
        (*migrated, skipped),
        tuple(targets),
        (chunk,),
        1,
    )
    checks = [
        Check(targets[0], influx, ()),
        Check(targets[1], Figures(0), ("missing in VictoriaMetrics",), ('x{db="furnace"}',)),
    ]
    return plan, checks


def test_the_report_lists_both_sides_of_every_series_and_what_was_not_migrated() -> None:
    plan, checks = _plan()
    data = as_json(plan, checks, "http://127.0.0.1:8428")
    assert data["ok"] is False
    assert data["range"] == {"start": "2025-01-01T00:00:00.000Z", "end": "2025-01-01T00:01:00.000Z"}
    first, second = data["series"]
    assert first["target"] == 'furnace_furnace_temp{device="furnace-1",studio="studio-1"}'
    figures = {
        "count": 2,
        "first": "2025-01-01T00:00:00.000Z",
        "last": "2025-01-01T00:01:00.000Z",
        "first_value": 1000.0,
        "last_value": 1001.0,
    }
    assert first["influxdb"] == first["victoriametrics"] == figures
    assert first["legacy"] == [
        {
            "measurement": "furnace",
            "field": "furnace_temp",
            "tags": {"device": "furnace-1"},
            "type": "float",
            "influxdb": figures,
        }
    ]
    assert second["ok"] is False and second["problems"] == ["missing in VictoriaMetrics"]
    assert data["not_migrated"] == [
        {
            "measurement": "furnace",
            "field": "state",
            "tags": {"device": "furnace-1"},
            "type": "string",
            "influxdb": {
                "count": 4,
                "first": "1970-01-01T00:00:00.000Z",
                "last": "1970-01-01T00:00:00.000Z",
                "first_value": "ok",
                "last_value": "ok",
            },
            "reason": STRING_FIELD,
        }
    ]
    json.dumps(data)
    markdown = as_markdown(plan, checks, "http://127.0.0.1:8428")
    assert "**1 of 2 series differ**" in markdown
    assert (
        "| `furnace,device=furnace-1 flame_voltage` | "
        '`furnace_flame_volts{device="furnace-1",studio="studio-1"}` | 2 | 0 |'
    ) in markdown
    assert "**missing in VictoriaMetrics** |" in markdown
    assert '- `x{db="furnace"}`' in markdown
    assert "| `furnace,device=furnace-1 state` | string | 4 | " in markdown


def test_the_plan_in_words() -> None:
    plan, _ = _plan()
    lines = plan_lines(plan, "1d", "1.6.7")
    assert lines[0] == (
        "InfluxDB 1.6.7 at http://127.0.0.1:8086, database furnace, retention policy autogen"
    )
    assert lines[1] == (
        "range 2025-01-01T00:00:00.000Z → 2025-01-01T00:01:00.000Z: 1 chunks of 1d, "
        "1 with data, 4 samples"
    )
    assert lines[2] == "migrate 2 series into 2:"
    assert '    → furnace_furnace_temp{device="furnace-1",studio="studio-1"}' in lines
    assert lines[-1] == f"  furnace,device=furnace-1 state (string, 4 points): {STRING_FIELD}"
    assert NO_MAPPING.startswith("no [[migrate.influx.fields]] row")


def test_times_on_the_command_line() -> None:
    assert _instant_ns("2025-01-01", "--start") == 1735689600 * 10**9
    assert _instant_ns("2025-01-01T01:00:00+01:00", "--start") == 1735689600 * 10**9
    assert _instant_ns("2025-01-01T00:00:00.25Z", "--end") == 1735689600 * 10**9 + 250 * MS
    assert _instant_ns(None, "--end") is None
    assert rfc3339(1735689600 * 10**9 + 250 * MS + 999) == "2025-01-01T00:00:00.250Z"
    assert Target("m", ()).selector() == "m{}"
