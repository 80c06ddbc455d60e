"""``sensor-bridge status`` without services: where it looks (each service's renderer), what
counts as deployed, the problems a report adds up to, its JSON and its screen; and the
dashboards push's comparison of a generated dashboard with a stored one."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import pytest

from sensor_bridge.errors import BridgeError
from sensor_bridge.grafana import differences
from sensor_bridge.local.examples import example_site
from sensor_bridge.mqtt_accounts import login
from sensor_bridge.registry import NAMES
from sensor_bridge.render import alertmanager, alloy, monit, quadlet_dir, vmalert
from sensor_bridge.render import vector as vector_render
from sensor_bridge.site import load_secrets, load_site
from sensor_bridge.status import text
from sensor_bridge.status.report import (
    DOWN,
    EXIT_OK,
    EXIT_WRONG,
    NOT_DEPLOYED,
    UP,
    Alerts,
    DeviceStatus,
    FiringAlert,
    Latest,
    Report,
    ServiceStatus,
    as_json,
)
from sensor_bridge.status.targets import Endpoints, Logins, deployed, installed_files
from tests.support.cli import run


def test_endpoints_are_where_the_rendered_configuration_listens(tmp_path: Path) -> None:
    site = load_site(example_site(tmp_path))
    endpoints = Endpoints.of_site(site)
    assert set(endpoints.addresses) == set(NAMES)
    assert endpoints.address("victoriametrics") == "127.0.0.1:8428"
    assert endpoints.address("vmalert") == vmalert.LISTEN
    assert endpoints.address("alertmanager") == f"127.0.0.1:{site.alertmanager.port}"
    assert endpoints.address("vector") == vector_render.API_ADDRESS
    assert endpoints.address("alloy") == alloy.LISTEN
    assert endpoints.address("monit") == f"127.0.0.1:{monit.Options().httpd_port}"
    # The Pi's own clients ask the broker's plain listener, on loopback.
    assert endpoints.address("mosquitto") == f"127.0.0.1:{site.broker.plain_port}"

    moved = endpoints.moved({"vmalert": "127.0.0.1:9999"})
    assert moved.address("vmalert") == "127.0.0.1:9999"
    assert moved.url("vmalert") == "http://127.0.0.1:9999"
    assert moved.address("alertmanager") == endpoints.address("alertmanager")
    with pytest.raises(BridgeError, match="no service 'grafana'; services are mosquitto, "):
        endpoints.moved({"grafana": "127.0.0.1:3000"})
    with pytest.raises(BridgeError, match="vmalert=localhost: use HOST:PORT"):
        endpoints.moved({"vmalert": "localhost"})


def test_deployed_means_the_installed_file_is_there(tmp_path: Path) -> None:
    site = load_site(example_site(tmp_path / "site"))
    files = installed_files(site)
    assert files["victoriametrics"] == quadlet_dir(site) / "victoriametrics.container"
    assert files["alertmanager"] == alertmanager.CONFIG_PATH
    root = tmp_path / "root"
    assert deployed(site, root) == frozenset()
    for name in ("mosquitto", "vmalert"):
        (root / files[name]).parent.mkdir(parents=True, exist_ok=True)
        (root / files[name]).write_text("")
    assert deployed(site, root) == {"mosquitto", "vmalert"}


def test_logins_come_from_the_secrets_file_or_say_why_not(tmp_path: Path) -> None:
    site = load_site(example_site(tmp_path))
    logins = Logins.of_site(site)
    assert logins.broker == login(load_secrets(site), "sensor-bridge-status")
    assert logins.monit == ("admin", "change-me-monit")
    assert logins.missing == ""

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(secrets.read_text().replace('httpd_password = "change-me-monit"', ""))
    assert Logins.of_site(site).missing == f"{secrets} has no [monit] httpd_password"
    secrets.unlink()
    missing = Logins.of_site(site)
    assert (missing.broker, missing.monit) == (None, None)
    assert missing.missing.startswith(f"{secrets}: secrets file not found")


def _report(**changes: object) -> Report:
    now = time.time()
    services = tuple(
        ServiceStatus(name, "127.0.0.1:1", UP if name != "alloy" else NOT_DEPLOYED, "1.0")
        for name in NAMES
    )
    device = DeviceStatus(
        id="furnace-1",
        name="Main furnace",
        state="online",
        firmware="1.4.2",
        board="raspberry_pi_pico_w",
        reset_reason="POWER_ON",
        unexpected_reset=False,
        last_sample_age_s=3.0,
        temperature_c=Latest(1000.0, 3.0),
        flame_v=Latest(3.5, 3.0),
        buffer_depth=Latest(0.0, 40.0),
        flow="flowing",
    )
    fields: dict[str, object] = {
        "studio": "studio-1",
        "checked_at": now,
        "elapsed_s": 0.05,
        "temperature_unit": "C",
        "stale_after_s": 60.0,
        "services": services,
        "devices": (device,),
        "alerts": Alerts("Alertmanager"),
    }
    fields.update(changes)
    return Report(**fields)  # type: ignore[arg-type]


def _screen(report: Report) -> str:
    """The screen as a pipe or a file gets it: no colours."""
    return click.unstyle(text.render(report))


def test_a_healthy_report_has_no_problem_and_exits_zero() -> None:
    report = _report()
    assert (report.problems, report.exit_code) == ([], EXIT_OK)
    screen = _screen(report)
    assert "all well" in screen
    assert "1000.0 °C  flame 3.50 V  buffer 0  newest sample 3 s ago" in screen
    assert "--    alloy            1.0        not deployed here" in screen


def test_each_kind_of_trouble_is_a_problem_in_plain_words() -> None:
    base = _report()
    (device,) = base.devices
    stale = DeviceStatus(**{**device.__dict__, "flow": "stale", "last_sample_age_s": 600.0})
    offline = DeviceStatus(**{**device.__dict__, "id": "glory-hole", "state": "offline"})
    services = (
        ServiceStatus("vmalert", "127.0.0.1:8881", DOWN, None, "connection refused"),
        *base.services[1:],
    )
    alert = FiringAlert(
        "FlameOut", "shop", "critical", "furnace-1", "Flame out", "2026-01-01T00:00:00Z", False
    )
    muted = FiringAlert("DiskNearlyFull", "system", "warning", "", "", "2026-01-01T00:00:00Z", True)
    report = _report(
        services=services,
        devices=(stale, offline),
        alerts=Alerts("Alertmanager", (alert, muted)),
        samples_problem=None,
    )
    assert report.problems == [
        "vmalert: not running: connection refused",
        "furnace-1: online, but no fresh samples in VictoriaMetrics: the pipeline stalled",
        "glory-hole: offline: the broker lost it (its last will)",
        "alert FlameOut firing on furnace-1",
    ]
    assert report.exit_code == EXIT_WRONG
    screen = _screen(report)
    assert "4 problems" in screen
    assert "Alerts (from Alertmanager): 1 firing, 1 silenced" in screen

    report_json = json.loads(json.dumps(as_json(report)))
    assert report_json["exit"] == EXIT_WRONG
    assert report_json["problems"] == report.problems
    assert report_json["services"][0] == {
        "name": "vmalert",
        "address": "127.0.0.1:8881",
        "state": DOWN,
        "version": None,
        "detail": "connection refused",
        "ok": False,
    }
    assert report_json["devices"][0]["temperature_c"] == {"value": 1000.0, "age_s": 3.0}
    assert report_json["devices"][1]["problems"] == ["offline: the broker lost it (its last will)"]


def test_no_alerting_service_anywhere_is_only_a_problem_when_one_is_deployed() -> None:
    nothing = tuple(ServiceStatus(n, "127.0.0.1:1", NOT_DEPLOYED) for n in NAMES)
    report = _report(services=nothing, alerts=Alerts(None))
    assert report.problems == ["no service of the pipeline is deployed here, and none answers"]
    some = (ServiceStatus("alertmanager", "127.0.0.1:1", DOWN, detail="connection refused"),)
    report = _report(services=nothing[:3] + some + nothing[4:], alerts=Alerts(None))
    assert "alerts: unknown, neither Alertmanager nor vmalert answers" in report.problems


def test_fahrenheit_and_old_values_read_as_such() -> None:
    report = _report(temperature_unit="F")
    screen = _screen(report)
    assert "1832.0 °F  flame 3.50 V  buffer 0  newest sample 3 s ago" in screen
    (device,) = report.devices
    old = DeviceStatus(**{**device.__dict__, "temperature_c": Latest(1000.0, 900.0)})
    assert "1832.0 °F (15 min ago)" in _screen(_report(temperature_unit="F", devices=(old,)))


def test_a_wrong_address_option_is_one_line(tmp_path: Path) -> None:
    site_file = example_site(tmp_path)
    result = run("status", "--site", str(site_file), "--address", "influxdb=127.0.0.1:8086")
    assert result.exit_code == 2
    assert result.output.startswith("sensor-bridge: no service 'influxdb'; services are ")
    result = run("status", "--site", str(site_file), "--address", "vmalert")
    assert result.exit_code == 2
    assert "use SERVICE=HOST:PORT" in result.output


def test_a_stored_dashboard_differs_by_panel_and_key_only_where_it_does() -> None:
    rows: list[dict[str, Any]] = [
        {"type": "row", "title": "Kiln (kiln)"},
        {"type": "timeseries", "title": "Temperature", "targets": [{"expr": "a"}]},
        {"type": "row", "title": "Glory hole (gh)"},
        {"type": "timeseries", "title": "Temperature", "targets": [{"expr": "b"}]},
    ]
    ours: dict[str, Any] = {"uid": "u", "title": "Furnaces", "panels": rows, "refresh": "30s"}
    # What Grafana stores: its own id and version, and keys it adds on its own.
    stored = {**ours, "id": 7, "version": 3, "weekStart": ""}
    assert differences(ours, stored) == []

    changed_panel = {**rows[3], "targets": [{"expr": "c"}]}
    changed = {**stored, "panels": [*rows[:3], changed_panel], "refresh": "1m"}
    assert differences(ours, changed) == [
        "panel 'Glory hole (gh) / Temperature' changed",
        "refresh changed",
    ]
    fewer = {**stored, "panels": rows[:2]}
    assert differences(ours, fewer) == [
        "panel 'row Glory hole (gh)' added",
        "panel 'Glory hole (gh) / Temperature' added",
    ]
    reordered = {**stored, "panels": [rows[2], rows[3], rows[0], rows[1]]}
    assert differences(ours, reordered) == ["panels reordered"]
