"""The small parts: secret masking, the container tool wrappers, the hatch launcher, the
post-restart health check, the NTP config."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sensor_bridge import mqtt_accounts
from sensor_bridge.checks.process import free_port
from sensor_bridge.install import container_tools, health, host_setup
from sensor_bridge.install.redaction import MASK, redact
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.tools import REPO_ROOT
from sensor_bridge.registry import MOSQUITTO, VECTOR, Health
from sensor_bridge.site import Site


def test_every_secret_value_is_masked(tmp_path: Path) -> None:
    context = example_context(tmp_path)
    secrets = context.secrets
    password = secrets.pipeline_password()
    said = redact(
        f"monitrc:12: syntax error '{password}' near user pipeline", secrets, context.site
    )
    assert password not in said
    assert MASK in said
    assert "syntax error" in said
    # Vector's secrets file holds the consumers' derived passwords, not the secrets file's.
    derived = mqtt_accounts.password(secrets, mqtt_accounts.vector_user(context.site))
    said = redact(f"vector.yaml: bad password '{derived}'", secrets, context.site)
    assert derived not in said and MASK in said


def test_wrappers_run_the_pinned_images(tmp_path: Path) -> None:
    site = example_context(tmp_path / "site").site
    staging = tmp_path / "staging"
    container_tools.install(tmp_path / "tools", site, [staging])
    vmalert = (tmp_path / "tools" / "vmalert").read_text()
    assert site.alerts.image in vmalert
    assert f"--volume={staging}:{staging}" in vmalert
    assert "--network=host" in vmalert
    assert (tmp_path / "tools" / "vector").stat().st_mode & 0o111
    assert site.pipeline.image in (tmp_path / "tools" / "vector").read_text()
    assert site.storage.image in (tmp_path / "tools" / "victoria-metrics").read_text()


def _launcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_run", REPO_ROOT / "deploy" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_launcher_says_yes_unless_dry() -> None:
    launcher = _launcher()
    run = launcher.pyinfra_argv("deploy", [], as_root=False)
    assert run[:3] == [sys.executable, "-m", "pyinfra"]
    assert run[-2:] == ["--sudo", "-y"]
    dry = launcher.pyinfra_argv("deploy", ["--dry", "--diff"], as_root=False)
    assert "-y" not in dry
    assert dry[-2:] == ["--dry", "--diff"]
    assert launcher.pyinfra_argv("rollback", [], as_root=False)[4].endswith("rollback.py")
    assert "--sudo" not in launcher.pyinfra_argv("deploy", [], as_root=True)


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"OK" if self.path == "/health" else b"nope"
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_health_probes_name_what_does_not_answer() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{server.server_address[1]}"
    try:
        assert health.probe(address, Health("/health", content="OK")) is None
        assert health.probe(address, Health("/health", content="ready")) == (
            f"http://{address}/health answered without 'ready'"
        )
        assert health.probe(address, Health("/other")) == (
            f"http://{address}/other answered HTTP 404"
        )
        closed = f"127.0.0.1:{free_port()}"
        assert "no TCP connection" in str(health.probe(closed, Health()))
        with socket.create_server(("127.0.0.1", 0)) as listener:
            assert health.probe(f"127.0.0.1:{listener.getsockname()[1]}", Health()) is None
    finally:
        server.shutdown()
        server.server_close()


def test_unhealthy_waits_until_the_deadline_then_names_the_rest(tmp_path: Path) -> None:
    site = example_context(tmp_path).site
    vector = VECTOR.address.load()(site)
    calls: dict[str, int] = {}

    def flaky(address: str, expected: Health) -> str | None:
        calls[address] = calls.get(address, 0) + 1
        if address == vector:
            return "still starting"
        return None if calls[address] > 1 else "not yet"

    problems = health.unhealthy(site, timeout_s=0.5, check=flaky)
    assert problems == {VECTOR.name: "still starting"}
    assert calls[MOSQUITTO.address.load()(site)] == 2


def test_chrony_serves_private_ranges_only() -> None:
    conf = host_setup.chrony_conf()
    assert "allow 192.168.0.0/16" in conf
    assert "allow 0.0.0.0/0" not in conf
    assert "\nallow\n" not in conf


FAKE_PODMAN = """#!/bin/sh
printf '%s\\n' "$@" > "$(dirname "$0")/podman.args"
env > "$(dirname "$0")/podman.env"
"""


def _wrapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tool: str, args: list[str], **run: Any
) -> tuple[Site, list[str]]:
    """The example site's wrappers over a podman that records its arguments; ``tool`` run
    with ``args`` (``run``: subprocess.run's cwd and env); the site and what podman got."""
    fake = tmp_path / "podman"
    fake.write_text(FAKE_PODMAN)
    fake.chmod(0o755)
    monkeypatch.setattr(container_tools, "PODMAN", str(fake))
    site = example_context(tmp_path / "site").site
    container_tools.install(tmp_path / "tools", site, [tmp_path / "staging"])
    subprocess.run([str(tmp_path / "tools" / tool), *args], check=True, timeout=10, **run)
    return site, (tmp_path / "podman.args").read_text().splitlines()


def test_the_vector_wrapper_runs_where_it_is_called_with_no_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the quadlet runs Vector: in the config directory (the secret backend's path is
    relative to it), with no variable from the caller (no interpolation to switch on)."""
    workdir = tmp_path / "staging" / "vector"
    workdir.mkdir(parents=True)
    environment = {
        "PATH": "/usr/bin:/bin",
        "VECTOR_DANGEROUSLY_ALLOW_ENV_VAR_INTERPOLATION": "true",
    }
    site, args = _wrapped(
        tmp_path, monkeypatch, "vector", ["test", "vector.yaml"], cwd=workdir, env=environment
    )
    assert args[-4:] == [f"--workdir={workdir}", site.pipeline.image, "test", "vector.yaml"]
    assert not [arg for arg in args if arg.startswith("--env")]


def test_a_wrapper_called_outside_the_mounts_runs_in_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deploy runs the checks from its own directory (the checkout, the SSH user's home),
    which the container does not have: podman would refuse it as the working directory."""
    site, args = _wrapped(
        tmp_path, monkeypatch, "vmalert", ["-dryRun"], cwd="/usr", env={"PATH": "/usr/bin:/bin"}
    )
    assert args[-3:] == ["--workdir=/", site.alerts.image, "-dryRun"]
