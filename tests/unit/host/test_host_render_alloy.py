"""Alloy's rendered config: the Pi's collectors, a job (and so an ``up`` series) for every
service, the studio on every series, Grafana Cloud only with its secrets, secrets only in the
0600 environment file; the checker says when no alloy binary exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sensor_bridge.checks import UNAVAILABLE
from sensor_bridge.checks import alloy as check_alloy
from sensor_bridge.errors import SiteError
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext, alloy
from sensor_bridge.site import GrafanaCloudSecrets

CLOUD = GrafanaCloudSecrets(
    url="https://prometheus.example.grafana.net/api/prom/push", user="123456", token="glc_x"
)


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path / "site")


def _with_cloud(context: RenderContext, cloud: GrafanaCloudSecrets) -> RenderContext:
    return RenderContext(context.site, context.secrets.model_copy(update={"grafana_cloud": cloud}))


def test_files_and_modes(context: RenderContext) -> None:
    config, defaults = alloy.render(context)
    assert (str(config.path), config.mode, config.secret) == (
        "etc/alloy/config.alloy",
        0o644,
        False,
    )
    assert (str(defaults.path), defaults.secret) == ("etc/default/alloy", True)
    assert 'CUSTOM_ARGS="--server.http.listen-addr=127.0.0.1:12345 --disable-reporting"' in (
        defaults.text
    )


def test_every_job_and_the_studio_label(context: RenderContext) -> None:
    text = alloy.config(context.site, to_cloud=False)
    assert 'set_collectors = ["cpu", "cpufreq", "diskstats", "filesystem", "hwmon"' in text
    assert '"thermal_zone"' in text and '"netdev"' in text and '"meminfo"' in text
    jobs = set(re.findall(r'"job" = "([a-z0-9_-]+)"', text))
    jobs |= set(re.findall(r'replacement = "([a-z0-9_-]+)"', text)) - {"up"}
    jobs |= set(re.findall(r'target \{\n\s+name = "([a-z0-9_-]+)"', text))
    assert jobs == set(alloy.JOBS)
    assert set(alloy.JOBS) >= {"victoriametrics", "vmalert", "alertmanager", "vector", "mosquitto"}
    assert 'external_labels = {"studio" = "studio-1"}' in text
    assert 'address = "127.0.0.1:1883"' in text
    assert 'url = "http://127.0.0.1:8428/api/v1/write"' in text
    assert "GRAFANA_CLOUD" not in text


def test_grafana_cloud_only_with_its_secrets(context: RenderContext) -> None:
    config, defaults = alloy.render(_with_cloud(context, CLOUD))
    assert 'url = sys.env("GRAFANA_CLOUD_URL")' in config.text
    assert "glc_x" not in config.text
    assert 'GRAFANA_CLOUD_TOKEN="glc_x"' in defaults.text
    assert 'GRAFANA_CLOUD_URL="https://prometheus.example.grafana.net/api/prom/push"' in (
        defaults.text
    )
    bad = CLOUD.model_copy(update={"token": 'a"b'})
    with pytest.raises(SiteError, match=r"\[grafana_cloud\] values must not hold quotes"):
        alloy.render(_with_cloud(context, bad))


def test_env_file_is_read_back_for_validate() -> None:
    text = alloy.defaults(CLOUD, "secrets.toml")
    env = check_alloy.environment(text)
    assert env["GRAFANA_CLOUD_USER"] == "123456"
    assert env["CONFIG_FILE"] == "/etc/alloy/config.alloy"


def test_no_binary_is_unavailable_not_failed(
    context: RenderContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    results = check_alloy.check(tmp_path, alloy.render(context))
    assert [(r.file, r.result) for r in results] == [
        ("etc/alloy/config.alloy", UNAVAILABLE),
        ("etc/default/alloy", UNAVAILABLE),
    ]


def _block(text: str, head: str) -> str:
    start = text.index(head + " {")
    return text[start : text.index("\n}\n", start)]


def test_broker_stats_are_scraped_without_a_second_up(context: RenderContext) -> None:
    """The broker's $SYS gauges come from Vector's exporter under job mosquitto; the only
    up{job="mosquitto"} stays the TCP probe's (the "service down" alert reads it)."""
    text = alloy.config(context.site, to_cloud=False)
    scrape = _block(text, 'prometheus.scrape "broker_stats"')
    assert 'targets = [{"__address__" = "127.0.0.1:9598", "job" = "mosquitto"}]' in scrape
    assert "forward_to = [prometheus.relabel.broker_stats.receiver]" in scrape
    relabel = _block(text, 'prometheus.relabel "broker_stats"')
    assert "forward_to = [prometheus.remote_write.default.receiver]" in relabel
    (keep,) = re.findall(r'regex = "([^"]+)"\n\s+action = "keep"', relabel)
    # Prometheus anchors relabel regexes.
    assert re.fullmatch(keep, "mosquitto_broker_clients_connected")
    for name in ("up", "scrape_duration_seconds", "scrape_samples_scraped"):
        assert not re.fullmatch(keep, name)
