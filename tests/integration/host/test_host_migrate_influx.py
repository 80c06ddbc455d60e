"""``sensor-bridge migrate influx`` against a real InfluxDB 1.x (Debian's influxd, with a login)
filled with legacy-looking data, the real vmctl and a real VictoriaMetrics on the rendered flags.

The legacy data: a year, sparse, with a three-month gap; two devices (one tagged with a name
that is not an id), a ``host`` tag to drop (which changed mid-year, so one device's history is
two InfluxDB series that become one); float, integer, boolean and string fields; a
measurement with no mapping; points written out of order, one written twice, one corrected
later, one with a sub-millisecond time. What VictoriaMetrics must hold is computed here from
what was written (``expected_targets``), not by the code under test.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from sensor_bridge.checks.process import free_port
from sensor_bridge.local import remote_write
from sensor_bridge.local.examples import example_context, example_site
from sensor_bridge.local.influxdb import InfluxDB
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.migrate.influxql import InfluxClient, InfluxSource
from sensor_bridge.migrate.mapping import NameMap
from sensor_bridge.migrate.plan import build_plan
from sensor_bridge.migrate.run import Progress, find_vmctl, migrate_chunks
from sensor_bridge.migrate.state import ChunkLog
from sensor_bridge.render import victoriametrics
from sensor_bridge.site import load_site
from sensor_bridge.store.client import Store
from sensor_bridge.store.urls import single_node
from tests.support.cli import run

pytestmark = pytest.mark.slow

STUDIO = "studio-1"
LOGIN = ("legacy-admin", "legacy-secret")
BASE_S = 1735689600
"""2025-01-01T00:00:00Z"""
DAY_S = 86400
GAP_DAYS = range(60, 150)
NEW_PI_DAY = 180
CHUNK = "30d"

MAPPING = """
[[migrate.influx.fields]]
measurement = "furnace"
field = "fault_open"
metric = "furnace_thermocouple_fault"
labels = { fault = "open_tc" }

[[migrate.influx.fields]]
measurement = "health"
field = "uptime"
metric = "furnace_device_uptime_seconds"

[[migrate.influx.fields]]
measurement = "health"
field = "rssi"
metric = "furnace_device_wifi_rssi_dbm"

[[migrate.influx.fields]]
measurement = "health"
field = "ntp_synced"
metric = "furnace_device_clock_valid"

[migrate.influx.devices]
"Glory Hole" = "glory-hole"
"""


FieldValue = float | int | bool | str


@dataclass(frozen=True)
class Point:
    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, FieldValue], ...]
    ns: int

    def line(self) -> str:
        tags = "".join(f",{k}={v.replace(' ', chr(92) + ' ')}" for k, v in self.tags)
        fields = ",".join(f"{k}={_literal(v)}" for k, v in self.fields)
        return f"{self.measurement}{tags} {fields} {self.ns}"


def _literal(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _ns(day: float, extra_ns: int = 0) -> int:
    return int((BASE_S + day * DAY_S) * 1_000_000_000) + extra_ns


def legacy_points() -> list[Point]:
    """What the legacy system wrote, in the order written (before the extra writes)."""
    points = []
    for i, day in enumerate(d for d in range(0, 365, 3) if d not in GAP_DAYS):
        # The Pi was replaced in July: the same device's series under a new host tag.
        furnace_1 = (("device", "furnace-1"), ("host", "pi-old" if day < NEW_PI_DAY else "pi-new"))
        fields: tuple[tuple[str, FieldValue], ...] = (
            ("furnace_temp", 1000.25 + i % 50),
            ("flame_voltage", 3.5 - (i % 7) / 10),
            ("status", "fault" if i % 17 == 0 else "ok"),
            ("fault_open", i % 17 == 0),
        )
        points.append(Point("furnace", furnace_1, fields, _ns(day, 250)))
    glory_hole = (("device", "Glory Hole"), ("host", "pi-old"))
    for i in range(144):
        # One dense day, every 10 minutes; one point with a sub-millisecond time.
        extra = 123_456 if i == 5 else 0
        fields = (("furnace_temp", 1090.5 + i / 4), ("flame_voltage", 3.25))
        points.append(Point("furnace", glory_hole, fields, _ns(200 + i / 144, extra)))
    for i, day in enumerate(d for d in range(1, 365, 7) if d not in GAP_DAYS):
        fields = (
            ("uptime", 86400 * i),
            ("rssi", -60 - i % 10),
            ("ntp_synced", i % 5 != 0),
            ("firmware", "1.2.0"),
            ("free_mem", 120000 - i),
        )
        points.append(Point("health", (("device", "furnace-1"),), fields, _ns(day)))
    for i in range(10):
        points.append(Point("ambient", (("room", "shop"),), (("temp", 21.5 + i),), _ns(300 + i)))
    return points


DUPLICATE_INDEX = 3
CORRECTED = Point(
    "furnace",
    (("device", "furnace-1"), ("host", "pi-old")),
    (("furnace_temp", 999.75),),
    _ns(3 * 7, 250),
)
"""A later write over one point's temperature (InfluxDB keeps the last one)."""

DEVICE_IDS = {"furnace-1": "furnace-1", "Glory Hole": "glory-hole"}
TARGETS = {
    ("furnace", "furnace_temp"): ("furnace_furnace_temp", {}),
    ("furnace", "flame_voltage"): ("furnace_flame_volts", {}),
    ("furnace", "fault_open"): ("furnace_thermocouple_fault", {"fault": "open_tc"}),
    ("health", "uptime"): ("furnace_device_uptime_seconds", {}),
    ("health", "rssi"): ("furnace_device_wifi_rssi_dbm", {}),
    ("health", "ntp_synced"): ("furnace_device_clock_valid", {}),
}


def expected_targets() -> dict[tuple[tuple[str, str], ...], dict[int, float]]:
    """Label set → {ms: value} VictoriaMetrics must hold: the last write of each point, as
    contract names and labels, booleans as 1/0, times in whole milliseconds."""
    stored: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
    for point in [*legacy_points(), CORRECTED]:
        tags = dict(point.tags)
        for field, value in point.fields:
            target = TARGETS.get((point.measurement, field))
            if target is None:
                continue
            metric, labels = target
            key = tuple(
                sorted(
                    {
                        "__name__": metric,
                        "studio": STUDIO,
                        "device": DEVICE_IDS[tags["device"]],
                        **labels,
                    }.items()
                )
            )
            stored.setdefault(key, {})[point.ns // 1_000_000] = float(value)
    return stored


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    with InfluxDB(tmp_path_factory.mktemp("influxdb"), auth=LOGIN) as server:
        server.create_database("furnace")
        lines = [point.line() for point in legacy_points()]
        lines.append(lines[DUPLICATE_INDEX])
        random.Random(7).shuffle(lines)
        for start in range(0, len(lines), 100):
            server.write("furnace", lines[start : start + 100])
        server.write("furnace", [CORRECTED.line()])
        yield server


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    path = example_site(tmp_path / "site")
    # The example's own [migrate.influx.devices] table (empty) makes way for the test's.
    text = path.read_text().replace("\n[migrate.influx.devices]\n", "\n", 1)
    path.write_text(text.replace("\n[[devices]]\n", MAPPING + "\n[[devices]]\n", 1))
    secrets = path.parent / "secrets.toml"
    secrets.write_text(
        secrets.read_text() + f'\n[influxdb]\nuser = "{LOGIN[0]}"\npassword = "{LOGIN[1]}"\n'
    )
    return path


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    (unit,) = victoriametrics.render(example_context(tmp_path / "render"))
    (tmp_path / "vm").mkdir()
    with VictoriaMetrics(tmp_path / "vm", unit.text) as server:
        yield server


def migrate_args(site_file: Path, legacy: InfluxDB, vm: VictoriaMetrics, tmp: Path) -> list[str]:
    return [
        "migrate",
        "influx",
        "--site",
        str(site_file),
        "--influx-url",
        legacy.url,
        "--vm-url",
        vm.url,
        "--chunk",
        CHUNK,
        "--state-dir",
        str(tmp / "state"),
        "--report-dir",
        str(tmp / "report"),
    ]


def stored(vm: VictoriaMetrics) -> dict[tuple[tuple[str, str], ...], dict[int, float]]:
    vm.flush()
    series: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
    for line in vm.export('{__name__=~".+"}'):
        samples = series.setdefault(tuple(sorted(line["metric"].items())), {})
        samples.update(zip(line["timestamps"], line["values"], strict=True))
    return series


def sample_count(vm: VictoriaMetrics) -> int:
    vm.flush()
    return sum(len(line["timestamps"]) for line in vm.export('{__name__=~".+"}'))


def report(tmp: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((tmp / "report" / "influx-migration.json").read_text())
    return loaded


def test_dry_run_prints_the_plan_and_writes_nothing(
    tmp_path: Path, site_file: Path, legacy: InfluxDB, vm: VictoriaMetrics
) -> None:
    result = run(*migrate_args(site_file, legacy, vm, tmp_path), "--dry-run")

    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        "range 2025-01-01T00:00:00.000Z → 2025-12-30T00:00:00.000Z: 13 chunks of 30d, 11 with data"
        in out
    )
    assert "migrate 11 series into 8:" in out
    old, new = "furnace,device=furnace-1,host=pi-old", "furnace,device=furnace-1,host=pi-new"
    assert (
        f"  {old} furnace_temp (float, 30 points, 2025-01-01T00:00:00.000Z → "
        f"2025-06-27T00:00:00.000Z)\n  {new} furnace_temp (float, 62 points, "
        "2025-06-30T00:00:00.000Z → 2025-12-30T00:00:00.000Z)\n"
        '    → furnace_furnace_temp{device="furnace-1",studio="studio-1"}\n'
    ) in out
    assert "furnace,device=Glory Hole,host=pi-old furnace_temp (float, 144 points" in out
    assert '→ furnace_furnace_temp{device="glory-hole",studio="studio-1"}' in out
    assert (
        '→ furnace_thermocouple_fault{device="furnace-1",fault="open_tc",studio="studio-1"}' in out
    )
    assert "not migrated 5 series:" in out
    assert "furnace,device=furnace-1,host=pi-old status (string, " in out
    assert "string field: VictoriaMetrics stores numbers only" in out
    assert "ambient,room=shop temp (float, 10 points): no [[migrate.influx.fields]] row" in out
    assert out.rstrip().endswith("dry run: nothing written")
    assert sample_count(vm) == 0
    assert not (tmp_path / "state").exists()
    assert not (tmp_path / "report").exists()


def test_migration_is_verified_joins_live_data_and_catches_a_lost_series(
    tmp_path: Path, site_file: Path, legacy: InfluxDB, vm: VictoriaMetrics
) -> None:
    args = migrate_args(site_file, legacy, vm, tmp_path)
    first = run(*args)

    assert first.exit_code == 0, first.output
    assert "chunk 1/" in first.output and " samples in " in first.output
    assert "verified 8 of 8 series; 5 not migrated" in first.output
    expected = expected_targets()
    # Exactly the contract's names and labels (no db, no host), every sample at its time.
    assert stored(vm) == expected
    migrated = report(tmp_path)
    assert migrated["ok"] is True
    assert len(migrated["series"]) == 8
    assert sorted((s["field"], s["reason"]) for s in migrated["not_migrated"]) == [
        ("firmware", "string field: VictoriaMetrics stores numbers only"),
        ("free_mem", "no [[migrate.influx.fields]] row maps this field"),
        ("status", "string field: VictoriaMetrics stores numbers only"),
        ("status", "string field: VictoriaMetrics stores numbers only"),
        ("temp", "no [[migrate.influx.fields]] row maps this field"),
    ]
    merged = next(
        s
        for s in migrated["series"]
        if s["target"] == 'furnace_furnace_temp{device="furnace-1",studio="studio-1"}'
    )
    assert [source["tags"]["host"] for source in merged["legacy"]] == ["pi-old", "pi-new"]
    assert merged["influxdb"]["count"] == merged["victoriametrics"]["count"] == 92
    assert (
        "| `furnace,device=Glory Hole,host=pi-old furnace_temp` |"
        in (tmp_path / "report" / "influx-migration.md").read_text()
    )

    # Live data (as Vector writes it) lands in the very series the history went to.
    live_ms = int(time.time() * 1000) - 60_000
    labels = {"__name__": "furnace_furnace_temp", "studio": STUDIO, "device": "furnace-1"}
    live = remote_write.Series(labels, [(live_ms, 1111.5)])
    assert remote_write.write(vm.urls.remote_write, [live]) == 204
    vm.flush()
    (joined,) = vm.export('furnace_furnace_temp{device="furnace-1"}')
    assert joined["metric"] == labels
    history = expected[tuple(sorted(labels.items()))]
    assert len(joined["timestamps"]) == len(history) + 1

    # Again: every chunk is known done; and with --fresh everything is sent again, stored once.
    before = sample_count(vm)
    again = run(*args)
    assert again.exit_code == 0, again.output
    assert again.output.count("done earlier") == first.output.count(" samples in ")
    fresh = run(*args, "--fresh")
    assert fresh.exit_code == 0, fresh.output
    assert fresh.output.count(" samples in ") == first.output.count(" samples in ")
    assert sample_count(vm) == before

    # A series lost in VictoriaMetrics: the verification names it and fails.
    lost = 'furnace_flame_volts{device="glory-hole",studio="studio-1"}'
    delete = f"{vm.url}/api/v1/admin/tsdb/delete_series?{urlencode({'match[]': lost})}"
    with urllib.request.urlopen(urllib.request.Request(delete, method="POST")) as response:
        assert response.status == 204
    corrupted = run(*args)
    assert corrupted.exit_code == 1, corrupted.output
    assert f"MISMATCH {lost} (from furnace,device=Glory Hole,host=pi-old flame_voltage)" in (
        corrupted.output
    )
    assert "missing in VictoriaMetrics" in corrupted.output
    assert "verified 7 of 8 series" in corrupted.output
    failed = [s for s in report(tmp_path)["series"] if not s["ok"]]
    assert [(s["target"], s["victoriametrics"]["count"]) for s in failed] == [(lost, 0)]


def test_each_series_stops_at_its_first_live_sample_unless_told(
    tmp_path: Path, site_file: Path, legacy: InfluxDB, vm: VictoriaMetrics
) -> None:
    """On main the legacy samples after the live pipeline's first one were written among the
    live ones, under the same labels."""
    first_live_ms = _ns(200.5) // 1_000_000
    labels = {"__name__": "furnace_furnace_temp", "studio": STUDIO, "device": "glory-hole"}
    # A minute apart from noon, where a legacy point also is (it must not replace this one).
    live_samples = [(first_live_ms + i * 60_000, 1200.0 + i) for i in range(5)]
    live = remote_write.Series(labels, live_samples)
    assert remote_write.write(vm.urls.remote_write, [live]) == 204
    vm.flush()
    args = migrate_args(site_file, legacy, vm, tmp_path)
    target = 'furnace_furnace_temp{device="glory-hole",studio="studio-1"}'

    first = run(*args)

    assert first.exit_code == 0, first.output
    assert "1 series migrated only up to their first live sample:" in first.output
    assert f"  {target}: first live sample 2025-07-20T12:00:00.000Z" in first.output
    assert "verified 8 of 8 series" in first.output
    expected = expected_targets()
    key = tuple(sorted(labels.items()))
    before = {ms: value for ms, value in expected[key].items() if ms < first_live_ms}
    assert 0 < len(before) < len(expected[key])
    held = stored(vm)
    assert held[key] == before | dict(live_samples)
    assert {k: v for k, v in held.items() if k != key} == {
        k: v for k, v in expected.items() if k != key
    }
    (series,) = [s for s in report(tmp_path)["series"] if s["target"] == target]
    assert series["first_live"] == "2025-07-20T12:00:00.000Z"
    assert series["influxdb"]["count"] == series["victoriametrics"]["count"] == len(before)
    assert report(tmp_path)["past_live"] is False
    assert "## Live data" in (tmp_path / "report" / "influx-migration.md").read_text()

    # Again: the bound is the recorded first live sample, not the migrated ones before it.
    again = run(*args)
    assert again.exit_code == 0, again.output
    assert f"  {target}: first live sample 2025-07-20T12:00:00.000Z" in again.output
    assert stored(vm) == held

    # Told so, the rest goes in among the live samples; the verification counts both.
    past = run(*args, "--past-live")
    assert "--past-live: legacy samples are written past" in past.output
    assert report(tmp_path)["past_live"] is True
    assert stored(vm)[key] == expected[key] | dict(live_samples)
    assert past.exit_code == 1
    assert f"MISMATCH {target}" in past.output


def test_an_interrupted_migration_resumes_where_it_stopped(
    tmp_path: Path, site_file: Path, legacy: InfluxDB, vm: VictoriaMetrics
) -> None:
    command = Path(sys.executable).parent / "sensor-bridge"
    args = migrate_args(site_file, legacy, vm, tmp_path)
    process = subprocess.Popen(
        [str(command), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("chunk 1/") and " samples in " in line:
            # Ctrl-C while the next chunks run.
            process.send_signal(signal.SIGINT)
            break
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, out + err
    assert "interrupted: " in err and "run the same command again to resume" in err
    (state,) = (tmp_path / "state").iterdir()
    done = len(list(state.glob("chunk-*.json")))

    resumed = run(*args)

    assert resumed.exit_code == 0, resumed.output
    total = resumed.output.count("done earlier") + resumed.output.count(" samples in ")
    assert 1 <= resumed.output.count("done earlier") == done < total
    assert stored(vm) == expected_targets()
    assert report(tmp_path)["ok"] is True


def test_a_store_without_deduplication_is_refused(
    tmp_path: Path, site_file: Path, legacy: InfluxDB
) -> None:
    (unit,) = victoriametrics.render(example_context(tmp_path / "render"))
    (tmp_path / "vm").mkdir()
    without = VictoriaMetrics(tmp_path / "vm", unit.text, without=("-dedup.minScrapeInterval",))
    with without:
        result = run(*migrate_args(site_file, legacy, without, tmp_path))
        assert result.exit_code == 2
        assert "runs without -dedup.minScrapeInterval" in result.output
        assert sample_count(without) == 0


def test_a_chunk_the_store_refuses_stops_the_run_and_stays_to_do(
    tmp_path: Path, site_file: Path, legacy: InfluxDB
) -> None:
    site = load_site(site_file)
    names = NameMap(site.migrate.influx, STUDIO)
    source = InfluxSource(legacy.url, "furnace", auth=LOGIN)
    plan = build_plan(InfluxClient(source), names, None, None, 30 * 86400 * 10**9)
    gone = f"http://127.0.0.1:{free_port()}"
    log = ChunkLog(tmp_path / "state")
    lines: list[str] = []
    progress = Progress()

    store = Store(single_node(gone))
    migrate_chunks(
        plan,
        names=names,
        store=store,
        log=log,
        vmctl_path=find_vmctl()[0],
        auth=LOGIN,
        echo=lines.append,
        progress=progress,
    )

    assert progress.failed is not None and progress.done == 0
    assert progress.failed.startswith(f"chunk 1/{len(plan.chunks)} ")
    assert f"VictoriaMetrics at {gone} does not answer" in progress.failed
    assert lines == [progress.failed]
    assert log.done(plan.chunks[0]) is None
