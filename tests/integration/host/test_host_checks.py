"""The checkers run the real tools: OK on what the example site renders, the tool's own error
line on a broken file, and NOT_CHECKED when the tool is missing."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, CheckResult
from sensor_bridge.checks import mosquitto as check_mosquitto
from sensor_bridge.checks import quadlet as check_quadlet
from sensor_bridge.checks import victoriametrics as check_victoriametrics
from sensor_bridge.checks.tools import find_tool, tool_cache, tool_version
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.tools import require_tool
from sensor_bridge.render import RenderContext, RenderedFile, mosquitto, victoriametrics
from sensor_bridge.site import VICTORIA_METRICS_VERSION
from sensor_bridge.tree import write_tree
from tests.support.trees import replaced


@pytest.fixture
def request_cleanup() -> Iterator[Callable[[Path], None]]:
    """Directories to remove after the test."""
    made: list[Path] = []
    yield made.append
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def files(tmp_path: Path) -> list[RenderedFile]:
    context = example_context(tmp_path / "site")
    return [*mosquitto.render(context), *victoriametrics.render(context)]


def _written(root: Path, files: list[RenderedFile]) -> Path:
    write_tree(root, files)
    return root


def _rows(results: list[CheckResult]) -> list[tuple[str, str, str]]:
    return [(r.file, r.tool, r.result) for r in results]


def test_rendered_example_passes_every_check(tmp_path: Path, files: list[RenderedFile]) -> None:
    root = _written(tmp_path / "tree", files)
    results = [
        *check_mosquitto.check(root, files),
        *check_victoriametrics.check(root, files),
        *check_quadlet.check(root, files),
    ]
    quadlet = str(victoriametrics.render(example_context(tmp_path / "s2"))[0].path)
    assert _rows(results) == [
        ("etc/mosquitto/conf.d/sensor-pipeline.conf", "mosquitto", OK),
        ("etc/mosquitto/certs/sensor-pipeline.crt", "mosquitto", OK),
        ("etc/mosquitto/certs/sensor-pipeline.key", "mosquitto", OK),
        ("etc/mosquitto/sensor-pipeline.passwd", "mosquitto", OK),
        ("etc/mosquitto/sensor-pipeline.acl", "mosquitto", OK),
        (quadlet, "victoria-metrics", OK),
        (quadlet, "podman quadlet", OK),
    ]
    assert all(r.version not in ("", "-", "?") for r in results), results


def test_a_port_taken_between_pick_and_bind_starts_again_on_new_ones(
    tmp_path: Path, files: list[RenderedFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process binds the free port first: not the config's fault, so no failure."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        picks = iter([taken.getsockname()[1]])
        real_free_port = check_mosquitto.free_port
        monkeypatch.setattr(check_mosquitto, "free_port", lambda: next(picks, real_free_port()))
        (conf, *_) = check_mosquitto.check(_written(tmp_path / "tree", files), files)
    assert (conf.result, conf.detail) == (OK, "listening on 2 listener(s)")


def test_the_tls_listener_needs_its_key(tmp_path: Path, files: list[RenderedFile]) -> None:
    """The checker keeps the TLS listener TLS: without the rendered key the broker fails."""
    root = _written(tmp_path / "tree", files)
    (root / mosquitto.KEY_PATH).unlink()
    (conf, *_) = check_mosquitto.check(root, files)
    assert conf.result == FAILED
    assert f"/{mosquitto.KEY_PATH}" in conf.detail


def test_mosquitto_error_line_is_reported(tmp_path: Path, files: list[RenderedFile]) -> None:
    broken = replaced(
        files, mosquitto.CONF_PATH, "persistence true", "persistence_location /var/lib/x/"
    )
    (conf, *_) = check_mosquitto.check(_written(tmp_path / "tree", broken), broken)
    line = broken[0].text.splitlines().index("persistence_location /var/lib/x/") + 1
    assert conf.result == FAILED
    assert conf.detail == (
        "Error: Duplicate persistence_location value in configuration. "
        f"Error found at /{mosquitto.CONF_PATH}:{line}."
    )


def test_broken_password_file_fails_the_broker_check(
    tmp_path: Path, files: list[RenderedFile]
) -> None:
    (passwd,) = [f for f in files if f.path == mosquitto.PASSWD_PATH]
    user = passwd.text.split(":", 1)[0]
    broken = replaced(files, mosquitto.PASSWD_PATH, f"{user}:$7$", f"{user}:$7$x")
    results = check_mosquitto.check(_written(tmp_path / "tree", broken), broken)
    assert {r.result for r in results} == {FAILED}
    # The broker starts without that user; the check must not call that a success.
    assert results[0].detail == f"Error: Invalid hash iterations for user {user}, removing entry."


def test_victoriametrics_refuses_a_bad_flag(tmp_path: Path, files: list[RenderedFile]) -> None:
    unit_path = victoriametrics.render(example_context(tmp_path / "s2"))[0].path
    broken = replaced(files, unit_path, "-search.latencyOffset=5s", "-search.latencyOffset=1d")
    (result,) = check_victoriametrics.check(tmp_path, broken)
    assert result.result == FAILED
    assert result.detail == 'invalid value "1d" for flag -search.latencyOffset: parse error'


def test_quadlet_generator_rejects_an_unknown_key(
    tmp_path: Path, files: list[RenderedFile]
) -> None:
    unit_path = victoriametrics.render(example_context(tmp_path / "s2"))[0].path
    broken = replaced(files, unit_path, "HealthRetries=", "HealthRetry=")
    (result,) = check_quadlet.check(_written(tmp_path / "tree", broken), broken)
    assert result.result == FAILED
    assert result.detail == (
        "converting \"victoriametrics.container\": unsupported key 'HealthRetry' in group "
        f"'Container' in /{unit_path}"
    )


def test_missing_tool_is_not_checked(
    tmp_path: Path, files: list[RenderedFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _written(tmp_path / "tree", files)
    for module in (check_mosquitto, check_victoriametrics, check_quadlet):
        monkeypatch.setattr(module, "find_tool", lambda name: None)
    results = [
        *check_mosquitto.check(root, files),
        *check_victoriametrics.check(root, files),
        *check_quadlet.check(root, files),
    ]
    assert len(results) == 3
    assert {r.result for r in results} == {NOT_CHECKED}


def test_tool_cache_holds_the_pinned_versions() -> None:
    """The VictoriaMetrics image the quadlet pins is the version the tests ran."""
    binary = require_tool("victoria-metrics")
    assert binary.is_relative_to(tool_cache())
    version = tool_version(binary)
    assert version.startswith(VICTORIA_METRICS_VERSION.removeprefix("v") + "+"), version
    for tool in ("vmalert", "vmalert-tool", "vmctl", "quadlet"):
        assert find_tool(tool) == require_tool(tool)
    assert tool_version(require_tool("quadlet")).startswith("5.")


def _broker_on(tmp_path: Path, address: str) -> list[RenderedFile]:
    context = example_context(tmp_path / f"site-{address}")
    broker = context.site.broker.model_copy(update={"address": address})
    site = context.site.model_copy(update={"broker": broker})
    return mosquitto.render(RenderContext(site, context.secrets))


def test_a_broker_address_this_host_does_not_have_fails_the_check(tmp_path: Path) -> None:
    """On main the checker moved every listener to 127.0.0.1: 192.0.2.1 (TEST-NET, on no
    host) passed, then the live broker failed to start."""
    foreign = _broker_on(tmp_path, "192.0.2.1")
    (conf, *_) = check_mosquitto.check(_written(tmp_path / "foreign", foreign), foreign)
    assert conf.result == FAILED
    assert conf.detail.startswith("broker.address 192.0.2.1 is not an address of this host")
    assert "set broker.address in the site file" in conf.detail
    assert "\n" not in conf.detail
    loopback = _broker_on(tmp_path, "127.0.0.1")
    (conf, *_) = check_mosquitto.check(_written(tmp_path / "loopback", loopback), loopback)
    assert (conf.result, conf.detail) == (OK, "listening on 2 listener(s)")


def test_as_root_the_broker_is_checked_as_the_mosquitto_user(
    tmp_path: Path, request_cleanup: Callable[[Path], None]
) -> None:
    """The deploy checks as root; the live broker drops to ``mosquitto`` before it loads its
    certificates. On main the check stayed root: a certificate only root can read passed,
    then the live broker failed to start."""
    assert os.geteuid() == 0, "the deploy's checks run as root; so does this test"
    # Not under tmp_path: pytest's base dir is root's 0700, which no other user can cross.
    live = Path(tempfile.mkdtemp(prefix="live-etc-"))
    request_cleanup(live)
    live.chmod(0o755)
    certs = live / "certs"
    certs.mkdir(mode=0o700)
    request = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=broker.local".split()
    outputs = ["-keyout", str(certs / "broker.key"), "-out", str(certs / "broker.crt")]
    subprocess.run([require_tool("openssl"), *request, *outputs], check=True, capture_output=True)
    # The rendered certificate is copied for the check; a file the tree does not hold is
    # read where it lives, as a hand-edited conf.d line would name it.
    files = _broker_on(tmp_path, "127.0.0.1")
    for option, name in (("certfile", "broker.crt"), ("keyfile", "broker.key")):
        rendered = mosquitto.CERT_PATH if option == "certfile" else mosquitto.KEY_PATH
        files = replaced(
            files, mosquitto.CONF_PATH, f"{option} /{rendered}", f"{option} {certs / name}"
        )
    # The rendered files themselves are root's 0600 in the tree, as in the deploy's staging.
    root = _written(tmp_path / "tree", files)

    (conf, *_) = check_mosquitto.check(root, files)

    assert conf.result == FAILED
    assert f'Unable to load server certificate "{certs / "broker.crt"}"' in conf.detail
    assert "Permission denied" in conf.detail
    mosquitto_user = pwd.getpwnam(check_mosquitto.BROKER_USER)
    os.chown(certs, mosquitto_user.pw_uid, mosquitto_user.pw_gid)
    for path in certs.iterdir():
        os.chown(path, mosquitto_user.pw_uid, mosquitto_user.pw_gid)
    (conf, *_) = check_mosquitto.check(root, files)
    assert (conf.result, conf.detail) == (OK, "listening on 2 listener(s)")
