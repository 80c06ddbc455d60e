"""Every rendered configuration takes the store from ``[storage]``: another port for the Pi's
own single node, or a cluster tenant, whose Pi then runs and watches no VictoriaMetrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.alerting import alerts
from sensor_bridge.alerting import rules as alert_rules
from sensor_bridge.checks.victoriametrics import rendered_flags, unit_values
from sensor_bridge.install import container_tools, host_setup
from sensor_bridge.local.examples import SITE_EXAMPLE, example_site
from sensor_bridge.registry import SERVICES, VICTORIAMETRICS, here
from sensor_bridge.render import RenderContext, alloy, monit, render_all, vector, vmalert
from sensor_bridge.render import victoriametrics as victoriametrics_render
from sensor_bridge.site import GrafanaCloudSecrets, load_secrets, load_site
from sensor_bridge.status.targets import Endpoints, installed_files
from sensor_bridge.store.urls import DEFAULT_URL

INSERT = "http://vminsert.fleet.lan:8480/insert/12/prometheus"
SELECT = "http://vmselect.fleet.lan:8481/select/12/prometheus"
CLOUD = GrafanaCloudSecrets(url="https://prom.example/api/prom/push", user="1", token="t")


def _context(tmp_path: Path, storage: str) -> RenderContext:
    site_file = example_site(tmp_path)
    text = SITE_EXAMPLE.read_text().replace(f'url = "{DEFAULT_URL}"', storage, 1)
    site_file.write_text(text)
    site = load_site(site_file)
    secrets = load_secrets(site).model_copy(update={"grafana_cloud": CLOUD})
    return RenderContext(site, secrets)


@pytest.fixture
def cluster(tmp_path: Path) -> RenderContext:
    return _context(tmp_path, f'insert_url = "{INSERT}"\nselect_url = "{SELECT}"')


def _vmalert_flags(context: RenderContext) -> dict[str, str]:
    return dict(flag.removeprefix("-").split("=", 1) for flag in vmalert.flags(context.site))


def _service_down_rules(context: RenderContext) -> set[str]:
    return {
        rule["labels"][alerts.SERVICE_LABEL]
        for group in alert_rules.rules(context.site)["groups"]
        for rule in group["rules"]
        if rule["alert"] == alerts.SERVICE_DOWN
    }


def test_a_cluster_tenant_is_written_and_read_where_the_site_says(cluster: RenderContext) -> None:
    config: dict[str, Any] = vector.config(cluster.site, to_cloud=True)
    assert config["sinks"]["victoriametrics"]["endpoint"] == f"{INSERT}/api/v1/write"
    assert config["sinks"]["vector_metrics"]["endpoint"] == f"{INSERT}/api/v1/write"
    assert config["sources"]["alerts_from_victoriametrics"]["endpoints"] == [f"{SELECT}/federate"]
    flags = _vmalert_flags(cluster)
    assert (flags["datasource.url"], flags["remoteRead.url"]) == (SELECT, SELECT)
    assert flags["remoteWrite.url"] == INSERT
    assert f'url = "{INSERT}/api/v1/write"' in alloy.config(cluster.site, to_cloud=False)


def test_a_pi_with_a_cluster_store_runs_and_watches_no_victoriametrics(
    cluster: RenderContext,
) -> None:
    assert here(cluster.site) == tuple(s for s in SERVICES if s is not VICTORIAMETRICS)
    files = render_all(cluster)
    assert not [f for f in files if f.service == victoriametrics_render.NAME]
    for container in (vector.container(cluster.site), vmalert.container(cluster.site)):
        assert list(container.after) == []
    assert VICTORIAMETRICS not in monit.watched(cluster.site)
    assert "check host victoriametrics" not in monit.checks(cluster.site)
    assert '"job" = "victoriametrics"' not in alloy.config(cluster.site, to_cloud=False)
    scraped = {s.name for s in SERVICES if s.scrape is not None}
    assert _service_down_rules(cluster) == scraped - {VICTORIAMETRICS.name}
    assert cluster.site.storage.image not in host_setup.images(cluster.site)
    assert cluster.site.storage.data_path not in host_setup.data_dirs(cluster.site)
    assert cluster.site.storage.image not in container_tools.images(cluster.site).values()
    assert VICTORIAMETRICS.name not in installed_files(cluster.site)
    # status asks the store where it answers reads.
    assert Endpoints.of_site(cluster.site).address("victoriametrics") == "vmselect.fleet.lan:8481"


def test_the_pis_own_store_on_another_port_is_run_and_watched_there(tmp_path: Path) -> None:
    context = _context(tmp_path, 'url = "http://127.0.0.1:9428"')
    (unit,) = victoriametrics_render.render(context)
    assert unit_values(unit.text, "Container", "PublishPort") == ["127.0.0.1:9428:9428"]
    assert "-httpListenAddr=:9428" in rendered_flags(unit.text)
    assert unit_values(unit.text, "Container", "HealthCmd") == [
        "wget -q -O /dev/null http://127.0.0.1:9428/health"
    ]
    assert VICTORIAMETRICS in here(context.site)
    assert "check host victoriametrics with address 127.0.0.1\n    if failed port 9428 " in (
        monit.checks(context.site)
    )
    assert vector.config(context.site)["sinks"]["victoriametrics"]["endpoint"] == (
        "http://127.0.0.1:9428/api/v1/write"
    )
    assert _vmalert_flags(context)["datasource.url"] == "http://127.0.0.1:9428"
    assert "victoriametrics" in _service_down_rules(context)
    assert list(vector.container(context.site).after) == ["victoriametrics.service"]


def test_another_machines_single_node_is_not_run_here(tmp_path: Path) -> None:
    context = _context(tmp_path, 'url = "http://vm.studio.lan:8428"')
    assert VICTORIAMETRICS not in here(context.site)
    assert not [f for f in render_all(context) if f.service == victoriametrics_render.NAME]
    assert vector.config(context.site)["sinks"]["victoriametrics"]["endpoint"] == (
        "http://vm.studio.lan:8428/api/v1/write"
    )
    assert _vmalert_flags(context)["remoteWrite.url"] == "http://vm.studio.lan:8428"
