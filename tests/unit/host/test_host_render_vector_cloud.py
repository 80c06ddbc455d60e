"""Vector's Grafana Cloud branch: a second remote-write sink with its own disk buffer, fed the
furnace, health and pipeline series and vmalert's ALERTS; the dashboards open on that cloud."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.checks.vector import load
from sensor_bridge.checks.vrl_runtime import Remap, VrlAborted
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.tools import REPO_ROOT
from sensor_bridge.render import dashboards, vector, vector_cloud
from sensor_bridge.render.dashboards import to_json
from sensor_bridge.site import VECTOR_MIN_DISK_BUFFER_BYTES
from tests.support.cloud import cloud_context


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    (yaml_file, *_) = vector.render(cloud_context(tmp_path))
    return load(yaml_file.text)


def test_the_cloud_sink_has_its_own_disk_buffer_that_never_blocks(config: dict[str, Any]) -> None:
    sink = config["sinks"]["grafana_cloud"]
    assert sink["type"] == "prometheus_remote_write"
    assert sink["inputs"] == [
        "cloud_furnace",
        "cloud_vector_metrics",
        "alerts_from_victoriametrics",
    ]
    assert sink["buffer"] == {
        "type": "disk",
        "max_size": VECTOR_MIN_DISK_BUFFER_BYTES,
        "when_full": "drop_newest",
    }
    assert sink["request"] == {"concurrency": 1}, "in order: one request in flight"
    assert sink["healthcheck"] == {"enabled": False}
    assert "default_namespace" not in sink, "it would turn ALERTS into furnace_ALERTS"
    # The archive's sink is unchanged: it still blocks rather than lose a sample.
    assert config["sinks"]["victoriametrics"]["buffer"]["when_full"] == "block"


def test_the_cloud_gets_what_the_archive_gets(config: dict[str, Any]) -> None:
    transforms = config["transforms"]
    assert transforms["cloud_furnace"]["inputs"] == config["sinks"]["victoriametrics"]["inputs"]
    assert transforms["cloud_vector_metrics"]["inputs"] == ["vector_internal"]


def test_alerts_are_read_from_victoriametrics_federate(config: dict[str, Any]) -> None:
    assert config["sources"]["alerts_from_victoriametrics"] == {
        "type": "prometheus_scrape",
        "endpoints": ["http://127.0.0.1:8428/federate"],
        "query": {"match[]": ['{__name__="ALERTS"}']},
        "scrape_interval_secs": 15,
        "honor_labels": True,
    }


def test_without_cloud_secrets_there_is_no_cloud_branch(tmp_path: Path) -> None:
    (yaml_file, _, secrets, *_) = vector.render(example_context(tmp_path))
    config = load(yaml_file.text)
    assert "grafana_cloud" not in config["sinks"]
    assert "alerts_from_victoriametrics" not in config["sources"]
    assert set(json.loads(secrets.text)) == {"mqtt_password", "mqtt_sys_password"}


def test_the_furnace_series_get_their_namespace_once() -> None:
    program = Remap(vector_cloud.furnace_program())
    assert program.run({"name": "furnace_temp"})["namespace"] == "furnace"
    assert program.run({"name": "x", "namespace": "vector"})["namespace"] == "vector"


def test_only_the_dashboards_vector_metrics_go_up_with_the_studio(tmp_path: Path) -> None:
    site = example_context(tmp_path).site
    program = Remap(vector_cloud.vector_metrics_program(site))
    shown = {"namespace": "vector", "name": "component_sent_events_total", "tags": {}}
    assert program.run(shown)["tags"] == {"studio": site.studio}
    with pytest.raises(VrlAborted):
        program.run({"namespace": "vector", "name": "utilization", "tags": {}})
    assert {f"vector_{n}" for n in vector_cloud.VECTOR_METRIC_NAMES} == {
        *dashboards.VECTOR_COUNTERS,
        dashboards.VECTOR_BUFFER,
    }


def test_dashboards_open_on_grafana_clouds_prometheus(tmp_path: Path) -> None:
    site = example_context(tmp_path).site
    boards = (dashboards.furnace, dashboards.device_health, dashboards.pipeline_health)
    for board in (build(site) for build in boards):
        (variable,) = json.loads(to_json(board))["templating"]["list"]
        assert variable["name"] == "datasource"
        assert variable["current"]["value"] == "grafanacloud-prom"


def test_the_readmes_series_count_is_the_rendered_one(tmp_path: Path) -> None:
    """The README's Grafana Cloud figures, per furnace, from the field table and the rules."""
    site = example_context(tmp_path).site
    per_device = vector_cloud.series_per_device(site, "furnace-1")
    assert list(per_device) == ["readings", "health", "status", "alerts"]
    total = sum(per_device.values())
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index("### Grafana Cloud")
    section = readme[start : readme.index("\n## ", start)]
    rows = dict(
        (line.split("|")[1].strip(), line.split("|")[2].strip())
        for line in section.splitlines()
        if line.startswith("| ") and line.count("|") == 3
    )
    figures = [value.strip("*") for value in rows.values()][1:]
    assert figures == [str(n) for n in (*per_device.values(), total)]
    assert f"about {10 * total} furnace series" in section
    samples = vector_cloud.samples_per_hour(per_device)
    assert f"come to {samples:,} samples an hour" in section.replace("\n", " ")
    # Ten furnaces take under a tenth of the free tier.
    assert 10 * total < vector_cloud.FREE_TIER_ACTIVE_SERIES / 10
