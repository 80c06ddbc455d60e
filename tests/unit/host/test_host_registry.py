"""The service registry: one entry per service, every piece it names exists, and each list of
services the stack needs (renderers, checkers, Alloy's scrapes, the ServiceDown rules, monit's
checks, ``status``, the deploy's packages and images) is the registry's, in its order; those of
this Pi are the services it runs for the site (``registry.here``), whatever the site.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path, PurePosixPath

import pytest

from sensor_bridge import checks, registry
from sensor_bridge.alerting import alerts, rules
from sensor_bridge.checks import quadlet
from sensor_bridge.install import container_tools, host_setup
from sensor_bridge.local.examples import example_context
from sensor_bridge.registry import METRICS, PROBE, SERVICES, VICTORIAMETRICS, Package, Quadlet
from sensor_bridge.render import RenderContext, alloy, dashboards, monit, render_all, renderers
from sensor_bridge.status.targets import Endpoints, installed_files


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path)


@pytest.fixture
def elsewhere(context: RenderContext) -> RenderContext:
    """The example site with its store a cluster tenant: this Pi runs no VictoriaMetrics."""
    storage = context.site.storage.model_copy(
        update={
            "url": None,
            "insert_url": "http://vminsert:8480/insert/7/prometheus",
            "select_url": "http://vmselect:8481/select/7/prometheus",
        }
    )
    return dataclasses.replace(context, site=context.site.model_copy(update={"storage": storage}))


def test_one_entry_per_service_and_every_piece_exists(context: RenderContext) -> None:
    assert len(set(registry.NAMES)) == len(SERVICES)
    for service in SERVICES:
        assert registry.by_name(service.name) is service
        for piece in (service.renderer, service.checker, service.probe):
            assert callable(piece.load()), piece.target
        assert re.fullmatch(r"[0-9a-z.]+:[0-9]+", service.address.load()(context.site))
        if service.on_change is not None:
            needs = service.on_change.load()(PurePosixPath("x"))
            assert needs in (registry.RESTART, registry.RELOAD, None)
        if isinstance(service.runs, Package):
            assert isinstance(service.runs.installed.load(), PurePosixPath)
    with pytest.raises(ValueError, match="no service 'grafana'; services are mosquitto, "):
        registry.by_name("grafana")


def test_every_rendered_file_belongs_to_a_service(context: RenderContext) -> None:
    files = render_all(context)
    assert [f.service for f in files if f.service != dashboards.NAME] == sorted(
        (f.service for f in files if f.service != dashboards.NAME), key=registry.NAMES.index
    )
    assert {f.service for f in files} == {*registry.NAMES, dashboards.NAME}
    assert len(renderers(context.site)) == len(SERVICES) + 1
    assert list(checks.checkers()) == [*registry.NAMES, quadlet.NAME]
    assert {f.check for f in files} - {None} <= set(checks.checkers())


def test_alloy_scrapes_and_service_down_rules_are_the_registry_s(context: RenderContext) -> None:
    site = context.site
    scraped = [s for s in SERVICES if s.scrape is not None]
    assert alloy.JOBS == (alloy.NODE_JOB, *(s.name for s in scraped))
    text = alloy.config(site, to_cloud=False)
    for service in scraped:
        address = service.address.load()(site)
        if service.scrape == METRICS:
            assert f'{{"__address__" = "{address}", "job" = "{service.name}"}}' in text
        else:
            assert service.scrape == PROBE
            assert f'name = "{service.name}"\n    address = "' in text
            assert address in text
    down = [
        rule
        for group in rules.rules(site)["groups"]
        for rule in group["rules"]
        if rule["alert"] == alerts.SERVICE_DOWN
    ]
    assert [rule["labels"][alerts.SERVICE_LABEL] for rule in down] == [s.name for s in scraped]
    for rule, service in zip(down, scraped, strict=True):
        assert f'up{{job="{service.name}"}}' in rule["expr"]
        assert f"status {service.unit};" in rule["annotations"]["runbook"]


def test_monit_and_status_ask_every_service_where_it_listens(context: RenderContext) -> None:
    site = context.site
    checked = monit.checks(site)
    for service in SERVICES:
        address = service.address.load()(site)
        assert Endpoints.of_site(site).address(service.name) == address
        if service.health is None:
            assert f" {service.name} " not in checked
            continue
        port = address.rpartition(":")[2]
        assert f" {service.name} " in checked
        assert f"port {port} " in checked
        assert f"restart {service.unit}" in checked
    assert set(installed_files(site)) == set(registry.NAMES)


def test_the_deploy_installs_and_restarts_every_service(context: RenderContext) -> None:
    site = context.site
    packaged = [s.runs for s in SERVICES if isinstance(s.runs, Package)]
    contained = [s.runs for s in SERVICES if isinstance(s.runs, Quadlet)]
    debian = {p for runs in packaged if runs.repository is None for p in runs.packages}
    assert debian <= set(host_setup.DEBIAN_PACKAGES)
    assert host_setup.REPOSITORIES == (registry.GRAFANA,)
    assert host_setup.images(site) == [runs.image(site) for runs in contained]
    assert list(container_tools.images(site)) == [runs.tool for runs in contained]
    # The deploy restarts them in the registry's order (tests/integration/deploy): monit last.
    assert SERVICES[-1] is registry.MONIT


def test_every_list_of_this_pi_is_the_services_it_runs(
    context: RenderContext, elsewhere: RenderContext
) -> None:
    assert registry.here(context.site) == SERVICES
    assert registry.here(elsewhere.site) == tuple(s for s in SERVICES if s is not VICTORIAMETRICS)
    for each in (context, elsewhere):
        site = each.site
        here = registry.here(site)
        assert {f.service for f in render_all(each)} == {*(s.name for s in here), dashboards.NAME}
        assert monit.watched(site) == [s for s in here if s.health is not None]
        scraped = [s for s in here if s.scrape is not None]
        assert rules.scraped(site) == scraped
        down = [
            rule["labels"][alerts.SERVICE_LABEL]
            for group in rules.rules(site)["groups"]
            for rule in group["rules"]
            if rule["alert"] == alerts.SERVICE_DOWN
        ]
        assert down == [s.name for s in scraped]
        text = alloy.config(site, to_cloud=False)
        for service in SERVICES:
            if service.scrape == METRICS:
                assert (f'"job" = "{service.name}"}}' in text) is (service in here)
        contained = [s.runs for s in here if isinstance(s.runs, Quadlet)]
        assert host_setup.images(site) == [runs.image(site) for runs in contained]
        assert host_setup.data_dirs(site) == [
            PurePosixPath(runs.data_dir(site)) for runs in contained if runs.data_dir is not None
        ]
        assert list(container_tools.images(site)) == [runs.tool for runs in contained]
        assert set(installed_files(site)) == {s.name for s in here}
