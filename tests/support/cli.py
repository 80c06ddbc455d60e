"""Running ``sensor-bridge`` in-process, on this helper's services only where a test asks."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from sensor_bridge import checks, render
from sensor_bridge.checks import mosquitto as check_mosquitto
from sensor_bridge.checks import quadlet as check_quadlet
from sensor_bridge.checks import victoriametrics as check_victoriametrics
from sensor_bridge.cli import main
from sensor_bridge.registry import MOSQUITTO, VICTORIAMETRICS
from sensor_bridge.render import mosquitto, victoriametrics


def broker_and_storage_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render and check Mosquitto, VictoriaMetrics and the quadlets only (not the pipeline):
    these tests are about the CLI, which treats every service alike."""
    monkeypatch.setattr(
        render, "renderers", lambda site: [mosquitto.render, victoriametrics.render]
    )
    monkeypatch.setattr(
        checks,
        "checkers",
        lambda: {
            MOSQUITTO.name: check_mosquitto.check,
            VICTORIAMETRICS.name: check_victoriametrics.check,
            check_quadlet.NAME: check_quadlet.check,
        },
    )


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
