"""The rendered monit files: modes, secrets, every service checked and restarted the right way,
notifications off, M/Monit only when the site asks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sensor_bridge.errors import SiteError
from sensor_bridge.local.examples import example_context
from sensor_bridge.registry import SERVICES
from sensor_bridge.render import RenderContext, monit
from sensor_bridge.site import Monit, MonitSecrets


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path / "site")


def test_files_modes_and_secrets(context: RenderContext) -> None:
    control, checks = monit.render(context)
    assert (control.path, control.mode, control.secret) == (monit.CONTROL_PATH, 0o600, True)
    assert (checks.path, checks.mode, checks.secret) == (monit.CHECKS_PATH, 0o600, False)
    assert 'allow admin:"change-me-monit"' in control.text
    assert "set httpd port 2812 and use address 127.0.0.1" in control.text


def test_local_notifications_are_off(context: RenderContext) -> None:
    statements = [
        line.split()[:2]
        for f in monit.render(context)
        for line in f.text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ["set", "alert"] not in statements
    assert ["set", "mailserver"] not in statements
    assert ["set", "mmonit"] not in statements


def test_every_service_is_checked_and_restarted_by_its_manager(context: RenderContext) -> None:
    checks = monit.checks(context.site)
    watched = monit.watched(context.site)
    assert [s.name for s in watched] == [s.name for s in SERVICES if s.name != "monit"]
    for service in watched:
        assert f" {service.name} " in checks
        user = " --user --machine=sensor@.host" if service.user else ""
        assert f'exec "/usr/bin/systemctl{user} restart {service.unit}"' in checks
    containers = {s.name for s in watched if s.user}
    assert containers == {"victoriametrics", "vmalert", "vector"}
    assert checks.count("\ncheck host ") == len(containers)
    assert checks.count("\ncheck process ") == len(watched) - len(containers)
    assert 'request "/health" with content = "OK"' in checks
    assert "check filesystem rootfs with path /" in checks
    assert "check system $HOST" in checks
    assert "exit($1>=80000)" in checks


def test_dataflow_restarts_vector_on_status_1_only(context: RenderContext) -> None:
    block = monit.dataflow_check(context.site)
    site_file = context.site.path.absolute()
    assert f'with path "/usr/local/bin/sensor-bridge dataflow --site {site_file}"' in block
    assert (
        'if status = 1 then exec "/usr/bin/systemctl --user '
        '--machine=sensor@.host restart vector.service" repeat every 10 cycles'
    ) in block
    assert "if status > 1 for 2 cycles then alert" in block


def test_mmonit_when_configured(context: RenderContext) -> None:
    site = context.site.model_copy(
        update={"monit": Monit(mmonit_url="https://mmonit.example.org:8443/collector")}
    )
    with pytest.raises(SiteError, match=r"add mmonit_user and mmonit_password under \[monit\]"):
        monit.control_file(site, context.secrets)
    secrets = context.secrets.model_copy(
        update={"monit": MonitSecrets(httpd_password="pw", mmonit_user="u", mmonit_password="p-1")}
    )
    text = monit.control_file(site, secrets)
    assert "set mmonit https://u:p-1@mmonit.example.org:8443/collector" in text
    assert "set eventqueue basedir /var/lib/monit/events slots 100" in text


def test_missing_httpd_password_is_named(context: RenderContext) -> None:
    secrets = context.secrets.model_copy(update={"monit": MonitSecrets()})
    with pytest.raises(SiteError, match=r'add httpd_password = "\.\.\." under \[monit\]'):
        monit.control_file(context.site, secrets)


def test_monit_heals_before_the_stall_alert_pages(context: RenderContext) -> None:
    with pytest.raises(ValidationError, match="must be shorter than furnace-1's"):
        context.site.model_validate({**context.site.model_dump(), "monit": {"stale_after": "2m"}})
