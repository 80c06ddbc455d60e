"""The alert rules (``alerting``), vmalert's quadlet, and the rule unit tests' coverage."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sensor_bridge.alerting import alerts, promql, rules, runner, series
from sensor_bridge.checks.victoriametrics import rendered_flags, unit_values
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext, vmalert
from sensor_bridge.site import Site


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path)


def _rules(site: Site) -> list[dict]:
    return [rule for group in rules.rules(site)["groups"] for rule in group["rules"]]


def test_every_alert_has_a_rule_with_its_labels_and_annotations(context: RenderContext) -> None:
    rules = _rules(context.site)
    names = {rule["alert"] for rule in rules}
    assert names == {*alerts.SHOP_ALERTS, *alerts.SYSTEM_ALERTS, alerts.HEARTBEAT}
    for rule in rules:
        kind = alerts.SHOP if rule["alert"] in alerts.SHOP_ALERTS else alerts.SYSTEM
        assert rule["labels"][alerts.TYPE_LABEL] == kind
        assert rule["labels"]["severity"]
        assert set(rule["annotations"]) == {"summary", "description", "runbook"}
        assert "$value" not in str(rule["labels"])


def test_device_rules_per_device_with_its_thresholds(context: RenderContext) -> None:
    rules = _rules(context.site)
    for device in context.site.devices:
        own = [r for r in rules if r["labels"].get(alerts.DEVICE_LABEL) == device.id]
        assert {r["alert"] for r in own} >= {alerts.FLAME_OUT, alerts.NO_DATA}
        assert all(f'device="{device.id}"' in r["expr"] for r in own)
    too_hot = [r for r in rules if r["alert"] == alerts.FURNACE_TOO_HOT]
    assert "> 1250" in too_hot[0]["expr"] and too_hot[0]["for"] == "2m"


def test_fahrenheit_converts_values_and_thresholds(tmp_path: Path) -> None:
    site_file = tmp_path / "site"
    context = example_context(site_file)
    site = context.site.model_copy(
        update={"alerts": context.site.alerts.model_copy(update={"temperature_unit": "F"})}
    )
    too_hot = next(r for r in _rules(site) if r["alert"] == alerts.FURNACE_TOO_HOT)
    assert ") * 9 / 5 + 32 > 2282" in too_hot["expr"]
    assert "2282 °F" in too_hot["annotations"]["description"]


def test_quadlet_latency_settings_and_state(context: RenderContext) -> None:
    _, unit = vmalert.render(context)
    assert unit_values(unit.text, "Container", "Image") == [
        "docker.io/victoriametrics/vmalert:v1.112.0"
    ]
    flags = rendered_flags(unit.text)
    assert "-rule.evalDelay=5s" in flags  # = storage.latency_offset
    assert "-notifier.url=http://127.0.0.1:9093" in flags
    assert "-remoteRead.url=http://127.0.0.1:8428" in flags
    assert "-external.label=studio=studio-1" in flags


def test_rule_tests_cover_every_alert_firing_and_not_for_every_device(
    context: RenderContext,
) -> None:
    site = context.site
    files = runner.test_files(site, "rules.yaml", day=False)
    fired: dict[str | None, set[str]] = {}
    quiet: dict[str | None, set[str]] = {}
    for text in files.values():
        for test in yaml.safe_load(text)["tests"]:
            # Device cases name their device last: "flame out fires (furnace-1)".
            about = next((d.id for d in site.devices if test["name"].endswith(f"({d.id})")), None)
            for check in test["alert_rule_test"]:
                seen = fired if check["exp_alerts"] else quiet
                seen.setdefault(about, set()).add(check["alertname"])
    everything = {*alerts.SHOP_ALERTS, *alerts.SYSTEM_ALERTS}
    per_device = {r["alert"] for r in _rules(site) if alerts.DEVICE_LABEL in r["labels"]}
    assert len(site.devices) > 1
    for device in site.devices:
        assert fired[device.id] >= per_device, device.id
        assert quiet[device.id] >= per_device, device.id
    assert set().union(*fired.values()) >= everything | {alerts.HEARTBEAT}
    assert set().union(*quiet.values()) >= everything


def test_values_notation() -> None:
    assert series.encode([1, 2, 3, None, None, 0.05, 0.05, 2e10]) == (
        "1+1x2 _ _ 0.05+0x1 20000000000"
    )


def test_site_rejects_a_bad_schedule_or_time_zone(tmp_path: Path) -> None:
    from sensor_bridge.errors import SiteError
    from sensor_bridge.local.examples import example_site
    from sensor_bridge.site import load_site

    site_file = example_site(tmp_path)
    text = site_file.read_text()
    site_file.write_text(text.replace('start = "20:00"', 'start = "25:00"'))
    with pytest.raises(SiteError, match="not a time of day"):
        load_site(site_file)
    site_file.write_text(text.replace('timezone = "UTC"', 'timezone = "Mars/Olympus"'))
    with pytest.raises(SiteError, match="not a time zone"):
        load_site(site_file)


def test_idle_hours_follow_the_site_time_zone(context: RenderContext) -> None:
    site = context.site.model_copy(
        update={"alerts": context.site.alerts.model_copy(update={"timezone": "Europe/Berlin"})}
    )
    device = site.devices[0]
    assert 'timezone_offset("Europe/Berlin")' in str(promql.idle_expr(site, device))
    # 1970-01-01 19:30 UTC is 20:30 in Berlin: idle from 20:00.
    assert series.is_idle(site, device, 19 * 3600 + 1800)
    assert not series.is_idle(site, device, 18 * 3600 + 1800)
