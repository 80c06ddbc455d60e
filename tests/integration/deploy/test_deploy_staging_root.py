"""The real pyinfra deploy on a staging root: first run, second run, a threshold edit, a site
typo that fails validation, and rollback, in the order an owner meets them.

The root is a temp dir: the configuration steps run for real under it (render, the real
checkers, swap), the system steps are recorded to a file, and nothing outside it is touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge import mqtt_accounts, registry
from sensor_bridge.install import host_setup
from sensor_bridge.install.layout import STATE_DIR
from sensor_bridge.local.examples import example_site
from sensor_bridge.site import load_secrets, load_site
from sensor_bridge.tree import file_mode, render_site
from tests.integration.deploy.pyinfra_runs import (
    BROKER_CONF,
    EXPIRATION,
    FURNACE_DASHBOARD,
    ROLLBACK,
    RULES,
    TYPO,
    deploy_on_root,
    edit_first_threshold,
    staging_root,
)

pytestmark = pytest.mark.slow

SECRET_FILES = (
    "etc/mosquitto/sensor-pipeline.passwd",
    "etc/mosquitto/certs/sensor-pipeline.key",
    "etc/prometheus/alertmanager.yml",
    "etc/monit/monitrc",
    "home/sensor/.config/sensor-pipeline/vector/secrets.json",
)
SOME_UNITS = {
    "mosquitto.service",
    "prometheus-alertmanager.service",
    "victoriametrics.service",
    "vmalert.service",
    "vector.service",
    "alloy.service",
    "monit.service",
}
"""Among the units the first run restarts: the rest are the registry's (a new service adds
its own)."""


def live_tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root`` but the deploy's own state: text and mode."""
    state = root / STATE_DIR
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mode & 0o7777)
        for path in root.rglob("*")
        if path.is_file() and not path.is_relative_to(state)
    }


def record(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / STATE_DIR / "last-run.json").read_text())
    return data


def secret_values(site_file: Path) -> list[str]:
    site = load_site(site_file)
    secrets = load_secrets(site)
    derived = [mqtt_accounts.password(secrets, c.user) for c in mqtt_accounts.consumers(site)]
    return [secrets.pipeline_password(), *secrets.mqtt.devices.values(), *derived]


def assert_first_run(root: Path, site_file: Path, output: str) -> None:
    """Every file in place with its text and mode; owners and restarts recorded; the system
    steps written down; no secret in the output."""
    for expected in render_site(site_file, [root]):
        live = root / expected.path
        assert live.read_text() == expected.text, expected.path
        assert live.stat().st_mode & 0o7777 == file_mode(expected), expected.path
    modes = {path: mode for path, (_, mode) in live_tree(root).items()}
    for secret_file in SECRET_FILES:
        assert modes[secret_file] == 0o600, secret_file
    first = record(root)
    assert first["owners"]["etc/mosquitto/sensor-pipeline.passwd"] == "mosquitto:mosquitto"
    assert first["owners"]["etc/mosquitto/certs/sensor-pipeline.key"] == "mosquitto:mosquitto"
    assert first["owners"]["etc/prometheus/alertmanager.yml"] == "prometheus:prometheus"
    assert first["owners"]["etc/monit/monitrc"] == "root:root"
    assert first["owners"][RULES] == "sensor:sensor"
    assert first["activation"]["user_daemon_reload"] is True
    restarted = {name for name, _ in first["activation"]["restart"]}
    assert restarted == {service.unit for service in registry.here(load_site(site_file))}
    assert restarted >= SOME_UNITS
    steps = (root / STATE_DIR / "system-steps.txt").read_text()
    (apt_install, *_) = [line for line in steps.splitlines() if line.startswith("apt install")]
    assert set(apt_install.split()[2:]) == set(host_setup.DEBIAN_PACKAGES)
    assert "loginctl enable-linger sensor" in steps
    site = load_site(site_file)
    for image in (site.storage.image, site.alerts.image, site.pipeline.image):
        assert f"podman pull {image}" in steps
    for secret in secret_values(site_file):
        assert secret not in output


def test_deploy_on_a_staging_root(tmp_path: Path) -> None:
    site_file = example_site(tmp_path / "site")
    root = staging_root(tmp_path / "root")

    first = deploy_on_root(root, site_file)
    assert first.returncode == 0, first.output
    assert_first_run(root, site_file, first.output)

    # The second run finds nothing to do.
    before = live_tree(root)
    second = deploy_on_root(root, site_file)
    assert second.returncode == 0, second.output
    assert second.totals()["changed"] == 0, second.output
    assert second.totals()["error"] == 0
    assert live_tree(root) == before

    # One threshold: vmalert's rules and the furnace dashboard change; only vmalert restarts.
    edit_first_threshold(site_file)
    third = deploy_on_root(root, site_file)
    assert third.returncode == 0, third.output
    after_edit = live_tree(root)
    assert set(after_edit) == set(before)
    assert {p for p in after_edit if after_edit[p] != before[p]} == {RULES, FURNACE_DASHBOARD}
    assert {c["path"] for c in record(root)["changed"]} == {RULES, FURNACE_DASHBOARD}
    assert record(root)["activation"] == {
        "user_daemon_reload": False,
        "restart": [["vmalert.service", True]],
        "reload": [],
        "stop": [],
    }

    # A typo in the site file that only the broker refuses fails the broker's check: the
    # deploy stops, names the file and why, and no live file changes.
    assert EXPIRATION in site_file.read_text()
    site_file.write_text(site_file.read_text().replace(EXPIRATION, TYPO))
    broken = deploy_on_root(root, site_file)
    assert broken.returncode != 0
    assert f"FAILED /{BROKER_CONF} (mosquitto)" in broken.output
    assert "Invalid persistent_client_expiration duration" in broken.output
    assert "deploy stopped before touching the live configuration" in broken.output
    assert live_tree(root) == after_edit

    # Rollback: the set the last swap replaced comes back; vmalert is the unit to restart.
    rolled_back = deploy_on_root(root, site_file, ROLLBACK)
    assert rolled_back.returncode == 0, rolled_back.output
    assert live_tree(root) == before
    assert record(root)["action"] == "rollback"
    assert record(root)["activation"]["restart"] == [["vmalert.service", True]]
    again = deploy_on_root(root, site_file, ROLLBACK)
    assert again.totals()["changed"] == 0, again.output
