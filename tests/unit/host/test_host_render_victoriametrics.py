"""VictoriaMetrics' quadlet and the pieces every container quadlet shares."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from sensor_bridge.checks.victoriametrics import rendered_flags, runnable_flags, unit_values
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext, RenderedFile, victoriametrics
from sensor_bridge.render.quadlets import Container, container_unit
from sensor_bridge.site import VICTORIA_METRICS_VERSION, Storage


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path)


@pytest.fixture
def unit(context: RenderContext) -> RenderedFile:
    (unit,) = victoriametrics.render(context)
    return unit


def test_quadlet_path_and_check(unit: RenderedFile) -> None:
    assert unit.path == PurePosixPath(
        "home/sensor/.config/containers/systemd/victoriametrics.container"
    )
    assert (unit.check, unit.service, unit.secret) == ("victoriametrics", "victoriametrics", False)


def test_image_pinned_and_loopback_only(unit: RenderedFile) -> None:
    assert unit_values(unit.text, "Container", "Image") == [
        f"docker.io/victoriametrics/victoria-metrics:{VICTORIA_METRICS_VERSION}"
    ]
    assert unit_values(unit.text, "Container", "PublishPort") == ["127.0.0.1:8428:8428"]
    assert unit_values(unit.text, "Container", "Volume") == [
        "/var/lib/sensor-pipeline/victoria-metrics:/storage"
    ]


def test_flags_from_the_site(unit: RenderedFile) -> None:
    assert rendered_flags(unit.text) == [
        "-storageDataPath=/storage",
        "-httpListenAddr=:8428",
        "-retentionPeriod=100y",
        "-dedup.minScrapeInterval=1ms",
        "-search.latencyOffset=5s",
    ]


def test_flags_follow_site_settings(context: RenderContext) -> None:
    storage = Storage(retention="10y", latency_offset="30s")
    site = context.site.model_copy(update={"storage": storage})
    flags = victoriametrics.flags(site)
    assert "-retentionPeriod=10y" in flags and "-search.latencyOffset=30s" in flags


def test_runnable_flags_replace_only_listen_and_data(unit: RenderedFile) -> None:
    assert runnable_flags(unit.text, 18428, Path("/tmp/vm")) == [
        "-httpListenAddr=127.0.0.1:18428",
        "-storageDataPath=/tmp/vm",
        "-retentionPeriod=100y",
        "-dedup.minScrapeInterval=1ms",
        "-search.latencyOffset=5s",
    ]


def test_every_container_restarts_checks_health_and_starts_without_network_wait(
    unit: RenderedFile,
) -> None:
    text = unit.text
    assert unit_values(text, "Service", "Restart") == ["always"]
    assert unit_values(text, "Container", "HealthCmd") == [
        "wget -q -O /dev/null http://127.0.0.1:8428/health"
    ]
    assert unit_values(text, "Container", "HealthOnFailure") == ["kill"]
    assert unit_values(text, "Quadlet", "DefaultDependencies") == ["false"]
    assert unit_values(text, "Install", "WantedBy") == ["default.target"]


def test_container_unit_optional_keys() -> None:
    text = container_unit(
        Container(
            name="pipe",
            description="d",
            image="docker.io/vendor/img:1",
            health_cmd="true",
            exec_args=["--config", "/etc/x y.yaml"],
            environment_file="/home/u/env",
            network="host",
            after=["victoriametrics.service"],
        )
    )
    assert unit_values(text, "Unit", "After") == ["victoriametrics.service"]
    assert unit_values(text, "Unit", "Wants") == ["victoriametrics.service"]
    assert unit_values(text, "Container", "EnvironmentFile") == ["/home/u/env"]
    assert unit_values(text, "Container", "Network") == ["host"]
    assert unit_values(text, "Container", "Exec") == ["--config '/etc/x y.yaml'"]
    assert unit_values(text, "Container", "PublishPort") == []
