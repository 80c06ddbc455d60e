"""The real VictoriaMetrics on the rendered flags, written to as Vector's remote-write sink does."""

from __future__ import annotations

import time
from pathlib import Path

from sensor_bridge.local import remote_write
from sensor_bridge.local.remote_write import Series
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.render import RenderedFile
from sensor_protocol.fields import (
    CONTRACT_METRICS,
    HEALTH_FIELDS,
    METRIC_NAMESPACE,
    READING_FIELDS,
    full_metric_name,
)

STUDIO = "studio-1"
DEVICES = ("furnace-1", "glory-hole")
CONTRACT_NAMES = sorted(
    [full_metric_name(f) for f in READING_FIELDS + HEALTH_FIELDS if f.metric is not None]
    + [f"{METRIC_NAMESPACE}_{name}" for name in CONTRACT_METRICS]
)


def _labels(name: str, device: str) -> dict[str, str]:
    return {"__name__": name, "studio": STUDIO, "device": device}


def test_contract_metrics_come_back_by_name_at_their_sample_times(
    server: VictoriaMetrics,
) -> None:
    # Samples an hour old, with ms precision, as a reading replayed on backfill would be.
    base = (int(time.time()) - 3600) * 1000 + 123
    series = [
        Series(_labels(name, device), [(base + i * 1000 + d, float(i) + d / 10)])
        for i, name in enumerate(CONTRACT_NAMES)
        for d, device in enumerate(DEVICES)
    ]
    assert remote_write.write(server.urls.remote_write, series) == 204
    server.flush()

    stored = {
        (s["metric"]["__name__"], s["metric"]["device"]): s
        for s in server.export(f'{{studio="{STUDIO}"}}')
    }
    assert sorted({name for name, _ in stored}) == CONTRACT_NAMES
    for written in series:
        name, device = written.labels["__name__"], written.labels["device"]
        got = stored[name, device]
        # No label added or renamed on the way (no `db`, no `metric_type`).
        assert got["metric"] == dict(written.labels)
        assert list(zip(got["timestamps"], got["values"], strict=True)) == list(written.samples)

    temperature = next(s for s in series if s.labels["__name__"] == "furnace_furnace_temp")
    at, value = temperature.samples[0]
    selector = f'furnace_furnace_temp{{studio="{STUDIO}",device="furnace-1"}}'
    result = server.query(selector, at / 1000)
    assert [(r["metric"], float(r["value"][1])) for r in result] == [
        ({"__name__": "furnace_furnace_temp", "studio": STUDIO, "device": "furnace-1"}, value)
    ]


def _write_twice_and_count(server: VictoriaMetrics) -> int:
    at = (int(time.time()) - 600) * 1000 + 7
    sample = [Series(_labels("furnace_furnace_temp", "furnace-1"), [(at, 1085.25)])]
    # Two requests, as a re-import or a retried remote-write batch would send them.
    for _ in range(2):
        assert remote_write.write(server.urls.remote_write, sample) == 204
        server.flush()
    (stored,) = server.export("furnace_furnace_temp")
    assert set(stored["timestamps"]) == {at}
    return len(stored["timestamps"])


def test_a_sample_written_twice_is_stored_once(server: VictoriaMetrics) -> None:
    assert _write_twice_and_count(server) == 1


def test_without_the_rendered_dedup_flag_it_would_be_stored_twice(
    tmp_path: Path, unit: RenderedFile
) -> None:
    """The control: the flag is what keeps one copy, not the way the test writes."""
    (tmp_path / "control").mkdir()
    control = VictoriaMetrics(
        tmp_path / "control", unit.text, without=("-dedup.minScrapeInterval",)
    )
    with control:
        assert _write_twice_and_count(control) == 2


def test_stored_samples_survive_a_restart(server: VictoriaMetrics) -> None:
    at = (int(time.time()) - 60) * 1000
    series = [Series(_labels("furnace_furnace_temp", "glory-hole"), [(at, 990.5)])]
    assert remote_write.write(server.urls.remote_write, series) == 204
    server.restart()
    (stored,) = server.export("furnace_furnace_temp")
    assert list(zip(stored["timestamps"], stored["values"], strict=True)) == [(at, 990.5)]
