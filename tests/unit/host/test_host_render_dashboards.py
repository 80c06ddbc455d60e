"""Dashboards as code: valid Grafana JSON, every contract metric on a dashboard, the site's
thresholds and temperature unit where the reader sees them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext, dashboards
from sensor_bridge.site import Alerts
from sensor_protocol.fields import HEALTH_FIELDS, READING_FIELDS, full_metric_name


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path / "site")


def _boards(context: RenderContext) -> dict[str, dict[str, Any]]:
    return {f.path.name: json.loads(f.text) for f in dashboards.render(context)}


def _exprs(board: dict[str, Any]) -> list[str]:
    targets = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    return targets + [a["expr"] for a in board["annotations"].get("list", [])]


def test_three_dashboards_in_the_service_users_config(context: RenderContext) -> None:
    files = dashboards.render(context)
    assert [str(f.path) for f in files] == [
        f"home/sensor/.config/sensor-pipeline/dashboards/{name}.json"
        for name in ("furnace", "device-health", "pipeline-health")
    ]
    assert all(f.text.endswith("\n") and not f.secret for f in files)


def test_every_contract_metric_is_on_a_dashboard(context: RenderContext) -> None:
    exprs = " ".join(e for board in _boards(context).values() for e in _exprs(board))
    used = set(re.findall(r"\b(furnace_[a-z0-9_]+)\b", exprs))
    wanted = {full_metric_name(f) for f in READING_FIELDS + HEALTH_FIELDS if f.metric}
    wanted |= {"furnace_device_online", "furnace_pipeline_dead_letters_total"}
    assert wanted <= used, wanted - used


def test_structure_grafana_needs(context: RenderContext) -> None:
    boards = _boards(context)
    assert len({b["uid"] for b in boards.values()}) == 3
    for board in boards.values():
        assert board["templating"]["list"][0]["name"] == "datasource"
        ids = [p["id"] for p in board["panels"]]
        assert len(set(ids)) == len(ids)
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert panel["targets"], panel["title"]
                assert all(t["refId"] for t in panel["targets"])


def test_thresholds_come_from_each_device(context: RenderContext) -> None:
    furnace = _boards(context)["furnace.json"]
    temperatures = [p for p in furnace["panels"] if p.get("title") == "Temperature"]
    assert len(temperatures) == len(context.site.devices)
    for device, panel in zip(context.site.devices, temperatures, strict=True):
        assert f'device="{device.id}"' in panel["targets"][0]["expr"]
        steps = [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]
        assert steps == [None, device.thresholds.too_cold_c, device.thresholds.too_hot_c]
    assert furnace["annotations"]["list"][0]["expr"].startswith('ALERTS{alertstate="firing"')


def test_fahrenheit_sites_see_fahrenheit(context: RenderContext) -> None:
    site = context.site.model_copy(update={"alerts": Alerts(temperature_unit="F")})
    furnace = json.loads(dashboards.to_json(dashboards.furnace(site)))
    panel = next(p for p in furnace["panels"] if p.get("title") == "Temperature")
    assert panel["fieldConfig"]["defaults"]["unit"] == "fahrenheit"
    assert panel["targets"][0]["expr"].endswith("* 9 / 5 + 32")
    too_hot = site.devices[0].thresholds.too_hot_c
    assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"][2]["value"] == pytest.approx(
        too_hot * 9 / 5 + 32
    )


def test_broker_panels_read_the_broker_stats_gauges(context: RenderContext) -> None:
    """Clients and message rates from the $SYS gauges Vector exports (render.broker_stats),
    blank once the broker's uptime stops rising (the exporter keeps the last values)."""
    pipeline = _boards(context)["pipeline-health.json"]
    panels = {p["title"]: p for p in pipeline["panels"] if p["title"].startswith("Broker:")}
    assert set(panels) == {"Broker: clients", "Broker: messages per second"}
    for panel in panels.values():
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs)
        for target in panel["targets"]:
            assert target["expr"].endswith(
                ' and on() changes(mosquitto_broker_uptime_seconds{studio="studio-1"}[1m]) > 0'
            )
    clients = [t["expr"] for t in panels["Broker: clients"]["targets"]]
    assert clients[0].startswith('(mosquitto_broker_clients_connected{studio="studio-1"})')
    rates = {t["legendFormat"]: t["expr"] for t in panels["Broker: messages per second"]["targets"]}
    assert list(rates) == ["received", "sent", "dropped"]
    assert rates["dropped"].startswith(
        '(rate(mosquitto_broker_publish_messages_dropped{studio="studio-1"}[5m]))'
    )
