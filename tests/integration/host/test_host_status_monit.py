"""``sensor-bridge status`` asks a real monit, on the rendered control file (its web interface
and the password from the secrets file), through the XML status page: monit's version and its
failing checks; a wrong password is one clear line."""

from __future__ import annotations

from pathlib import Path

from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.tools import require_tool
from sensor_bridge.registry import NAMES
from sensor_bridge.render import monit
from sensor_bridge.status import services
from sensor_bridge.status.report import EXIT_WRONG, UNHEALTHY
from sensor_bridge.status.services import Ask
from sensor_bridge.status.targets import Logins
from sensor_bridge.tree import write_tree
from tests.support.cli import run

WAIT_S = 10.0


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_monits_version_and_failing_check_and_a_wrong_password(tmp_path: Path) -> None:
    context = example_context(tmp_path / "site")
    options = monit.Options(
        cycle_s=1,
        start_delay_s=0,
        httpd_port=free_port(),
        state_dir=str(tmp_path),
        log=str(tmp_path / "monit.log"),
        pid_file=str(tmp_path / "monit.pid"),
        include_dir=str(tmp_path / "conf.d"),
        # The data-flow check fails (exit 1: stale data); the restart it asks for does nothing.
        sensor_bridge=str(_script(tmp_path / "sensor-bridge", "exit 1")),
        systemctl=str(_script(tmp_path / "systemctl", "exit 0")),
    )
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "dataflow").write_text(monit.dataflow_check(context.site, options))
    control = tmp_path / "monitrc"
    control.touch(mode=0o600)
    control.write_text(monit.control_file(context.site, context.secrets, options))
    # Deployed here: monit only.
    root = tmp_path / "root"
    write_tree(root, [f for f in monit.render(context) if f.path == monit.CHECKS_PATH])
    address = f"127.0.0.1:{options.httpd_port}"
    logins = Logins(None, (monit.HTTPD_USER, context.secrets.monit.httpd_password or ""))

    with Service([require_tool("monit"), "-I", "-c", control], tmp_path / "monit.out") as daemon:
        found = daemon.wait_until(
            lambda: services.monit(Ask("monit", address, 0.5, logins, {})).state == UNHEALTHY,
            WAIT_S,
        )
        assert found, f"the failing check within {WAIT_S} s; monit said: {daemon.output()}"
        moved = [f"--address={name}=127.0.0.1:{free_port()}" for name in NAMES]
        args = ["status", "--site", str(context.site.path), "--root", str(root), *moved]
        result = run(*args, f"--address=monit={address}")
        print(f"\n{result.output}")
        assert result.exit_code == EXIT_WRONG
        line = next(line for line in result.output.splitlines() if " monit " in line)
        assert line.split()[:3] == ["FAIL", "monit", "5.33.0"], line
        # The other check is the one monit adds for the machine itself.
        assert line.endswith("unhealthy: 2 checks, 1 failing: dataflow"), line

        secrets = context.site.secrets_path
        secrets.write_text(secrets.read_text().replace("change-me-monit", "wrong-password"))
        result = run(*args, f"--address=monit={address}")
        line = next(line for line in result.output.splitlines() if " monit " in line)
        assert line.endswith(
            "unhealthy: cannot log in: it refused the password in the secrets file "
            "([monit] httpd_password)"
        ), line
