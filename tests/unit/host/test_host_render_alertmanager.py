"""The Alertmanager renderer: the routing tree on ``type``, inhibitions from the alert names,
the IRM URLs from the secrets (missing or malformed: one clear line), loopback-only flags."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from sensor_bridge.alerting import alerts
from sensor_bridge.alerting.alerts import INHIBITIONS
from sensor_bridge.checks.alertmanager import rendered_args
from sensor_bridge.errors import SiteError
from sensor_bridge.local.examples import SECRETS_EXAMPLE, example_context, example_site
from sensor_bridge.render import RenderContext, alertmanager
from sensor_bridge.render.alertmanager import CONFIG_PATH, DEFAULTS_PATH
from sensor_bridge.site import IrmSecrets, load_secrets, load_site


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path)


def test_config_is_a_secret_and_routes_on_type(context: RenderContext) -> None:
    config, defaults = alertmanager.render(context)
    assert (config.path, config.secret, config.mode) == (CONFIG_PATH, True, 0o600)
    assert (defaults.path, defaults.secret) == (DEFAULTS_PATH, False)
    route = yaml.safe_load(config.text)["route"]
    assert route["receiver"] == alertmanager.SUPPORT
    assert route["group_by"] == ["studio", "device", "alertname"]
    assert [(r["receiver"], r["matchers"]) for r in route["routes"]] == [
        (alertmanager.HEARTBEAT, ['alertname="Heartbeat"']),
        (alertmanager.OWNER, ['type="shop"']),
        (alertmanager.SUPPORT, ['type="system"']),
    ]
    shop = context.site.alertmanager.shop
    assert route["routes"][1]["group_wait"] == shop.group_wait == "1s"


def test_receivers_use_the_irm_urls_and_send_the_all_clear(context: RenderContext) -> None:
    receivers = yaml.safe_load(alertmanager.render(context)[0].text)["receivers"]
    irm = tomllib.loads(SECRETS_EXAMPLE.read_text())["irm"]
    by_name = {r["name"]: r["webhook_configs"][0] for r in receivers}
    assert by_name[alertmanager.OWNER]["url"] == irm["owner_url"]
    assert by_name[alertmanager.SUPPORT]["url"] == irm["support_url"]
    assert by_name[alertmanager.HEARTBEAT]["url"] == irm["heartbeat_url"]
    assert [c["send_resolved"] for c in by_name.values()] == [True, True, False]
    assert all(c["max_alerts"] < 100 for c in by_name.values())


def test_inhibitions_name_real_alerts(context: RenderContext) -> None:
    known = {*alerts.SHOP_ALERTS, *alerts.SYSTEM_ALERTS}
    for rule in INHIBITIONS:
        assert {rule.source, *rule.targets} <= known
    rendered = yaml.safe_load(alertmanager.render(context)[0].text)["inhibit_rules"]
    assert rendered[0] == {
        "source_matchers": ['alertname="DeviceNoData"'],
        "target_matchers": ['alertname=~"FlameOut|FurnaceTooCold"'],
        "equal": ["studio", "device"],
    }


def test_flags_listen_on_loopback_without_a_cluster(context: RenderContext) -> None:
    defaults = alertmanager.render(context)[1]
    assert rendered_args(defaults.text) == [
        "--web.listen-address=127.0.0.1:9093",
        "--cluster.listen-address=",
    ]


def test_missing_irm_url_names_the_key(context: RenderContext) -> None:
    secrets = context.secrets.model_copy(update={"irm": IrmSecrets()})
    with pytest.raises(SiteError, match=r"no IRM URL: add owner_url = .* under \[irm\]"):
        alertmanager.render(RenderContext(context.site, secrets))


def test_an_irm_url_without_its_trailing_slash_is_refused(tmp_path: Path) -> None:
    site = load_site(example_site(tmp_path))
    secrets_file = tmp_path / "secrets.toml"
    text = secrets_file.read_text().replace("change-me-owner/", "change-me-owner")
    secrets_file.write_text(text)
    with pytest.raises(SiteError, match=r"irm\.owner_url: .* with the trailing slash"):
        load_secrets(site)
