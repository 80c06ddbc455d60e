"""The Vector checker: vrl-python runs the rendered tests through the rendered VRL, systemd-tmpfiles
cleans on a scratch root, Vector itself runs where installed; a broken file fails. Also the
quadlet's health command, as podman's generator passes it on and as a shell runs it."""

from __future__ import annotations

import http.server
import os
import re
import shlex
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor_bridge.checks import FAILED, OK, UNAVAILABLE, CheckResult
from sensor_bridge.checks import vector as check_vector
from sensor_bridge.checks.victoriametrics import unit_values
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.tools import require_tool
from sensor_bridge.render import RenderedFile, vector
from sensor_bridge.site import VECTOR_VERSION
from sensor_bridge.tree import write_tree
from tests.support.trees import replaced

YAML = "home/sensor/.config/sensor-pipeline/vector/vector.yaml"
TESTS = "home/sensor/.config/sensor-pipeline/vector/tests.yaml"
TMPFILES = "home/sensor/.config/user-tmpfiles.d/sensor-pipeline-vector.conf"


@pytest.fixture
def files(tmp_path: Path) -> list[RenderedFile]:
    return vector.render(example_context(tmp_path / "site"))


def _check(root: Path, files: list[RenderedFile]) -> list[CheckResult]:
    write_tree(root, files)
    return check_vector.check(root, files)


def _row(results: list[CheckResult], tool: str) -> CheckResult:
    (row,) = [r for r in results if r.tool == tool and r.file == YAML]
    return row


def test_rendered_pipeline_passes(tmp_path: Path, files: list[RenderedFile]) -> None:
    results = _check(tmp_path / "tree", files)
    by_tool = {(r.file, r.tool): r for r in results}
    assert by_tool[YAML, "no interpolation"].result == OK
    assert by_tool[YAML, "SECRET refs"].result == OK
    assert by_tool[YAML, "SECRET refs"].detail == "2 references resolved"
    assert by_tool[YAML, "vrl-python"].result == OK
    assert by_tool[YAML, "vrl-python"].detail.endswith("decode_broker_stats on 5 $SYS messages")
    assert by_tool[YAML, "vrl-python"].version == "0.1.0"
    assert by_tool[TMPFILES, "systemd-tmpfiles"].result == OK
    vector_rows = [r for r in results if r.tool.startswith("vector")]
    if vector_rows[0].result == UNAVAILABLE:
        assert [(r.file, r.detail.startswith("no vector binary")) for r in vector_rows] == [
            (YAML, True),
            (TESTS, True),
        ]
    else:
        assert [(r.file, r.tool, r.result) for r in vector_rows] == [
            (YAML, "vector validate", OK),
            (TESTS, "vector test", OK),
        ]


def test_a_wrong_expectation_fails(tmp_path: Path, files: list[RenderedFile]) -> None:
    broken = replaced(files, "tests.yaml", '"gauge": {"value": 247.5}', '"gauge": {"value": 1.0}')
    vrl_row = _row(_check(tmp_path / "tree", broken), "vrl-python")
    assert vrl_row.result == FAILED
    assert "telemetry: no event from sort.telemetry satisfies" in vrl_row.detail


def test_a_missing_event_fails(tmp_path: Path, files: list[RenderedFile]) -> None:
    """A program that forgets the cold junction: the counts no longer match."""
    broken = replaced(files, "vector.yaml", '"cold_junction_celsius"', '"forgotten"')
    vrl_row = _row(_check(tmp_path / "tree", broken), "vrl-python")
    assert vrl_row.result == FAILED
    assert "no event from sort.telemetry satisfies" in vrl_row.detail


def test_vrl_that_does_not_compile_fails(tmp_path: Path, files: list[RenderedFile]) -> None:
    broken = replaced(
        files, "vector.yaml", 'received = get(., ["timestamp"]) ?? null', "x = 1 ?? 2"
    )
    vrl_row = _row(_check(tmp_path / "tree", broken), "vrl-python")
    assert vrl_row.result == FAILED
    assert "E651" in vrl_row.detail


def test_dollars_written_for_interpolation_fail_in_one_line(
    tmp_path: Path, files: list[RenderedFile]
) -> None:
    """The config as rendered before Vector 0.57: $$SYS (the escape only interpolation undoes)
    and the password from the environment. Vector 0.57 reads both as written."""
    old = replaced(files, "vector.yaml", "$SYS/broker/", "$$SYS/broker/")
    old = replaced(
        old, "vector.yaml", "'SECRET[sensor_pipeline.mqtt_password]'", "${PIPELINE_PASSWORD}"
    )
    results = _check(tmp_path / "tree", old)
    row = _row(results, "no interpolation")
    assert row.result == FAILED
    assert "\n" not in row.detail
    assert "needs environment interpolation, which Vector 0.57 leaves off" in row.detail
    assert "SECRET[sensor_pipeline.key]" in row.detail and "write $ once" in row.detail
    # The broker-statistics cases, run on the VRL as Vector 0.57 reads it, fail too.
    vrl_row = _row(results, "vrl-python")
    assert vrl_row.result == FAILED
    assert "broker stats: seconds: 1 events expected from decode_broker_stats" in vrl_row.detail


def test_a_secret_the_secrets_file_lacks_fails(tmp_path: Path, files: list[RenderedFile]) -> None:
    broken = replaced(files, "secrets.json", '"mqtt_password"', '"mqtt_pass"')
    row = _row(_check(tmp_path / "tree", broken), "SECRET refs")
    assert row.result == FAILED
    assert row.detail == (
        "no value in secrets.json for SECRET[sensor_pipeline.mqtt_password]: "
        "run sensor-bridge render"
    )


FAKE_VECTOR = """#!/bin/sh
# Records how it was run; reads the secret backend's file as Vector would (relative path).
{ echo "argv: $*"; echo "cwd: $PWD"; env | grep '^VECTOR_' ; cat secrets.json; } >> "$LOG"
echo "vector 0.57.0 (fake)"
"""


def test_vector_runs_as_the_service_runs_it(
    tmp_path: Path, files: list[RenderedFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the config directory (the quadlet's WorkingDir), without VECTOR_* variables (a
    VECTOR_DANGEROUSLY_ALLOW_ENV_VAR_INTERPOLATION here would hide what the Pi does)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "vector.log"
    bin_dir.mkdir()
    (bin_dir / "vector").write_text(FAKE_VECTOR)
    (bin_dir / "vector").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("LOG", str(log))
    monkeypatch.setenv("VECTOR_DANGEROUSLY_ALLOW_ENV_VAR_INTERPOLATION", "true")
    root = tmp_path / "tree"
    results = _check(root, files)
    assert [(r.tool, r.result) for r in results if r.tool.startswith("vector ")] == [
        ("vector validate", OK),
        ("vector test", OK),
    ]
    text = log.read_text()
    config_dir = root / YAML.rsplit("/", 1)[0]
    assert f"argv: validate --no-environment {root / YAML}\n" in text
    assert f"argv: test {root / YAML} {root / TESTS}\n" in text
    assert text.count(f"cwd: {config_dir}\n") == 2  # validate and test
    assert "VECTOR_" not in text
    assert '"mqtt_password"' in text


def test_a_tmpfiles_rule_that_keeps_everything_fails(
    tmp_path: Path, files: list[RenderedFile]
) -> None:
    broken = replaced(files, "sensor-pipeline-vector.conf", "m:2d", "m:30d")
    (row,) = [r for r in _check(tmp_path / "tree", broken) if r.file == TMPFILES]
    assert row.result == FAILED and "expired file kept: True" in row.detail


@pytest.fixture
def health_endpoint() -> Iterator[int]:
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b'{"ok":true}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _health_cmd(files: list[RenderedFile]) -> str:
    (unit,) = [f for f in files if f.path.name == "vector.container"]
    (command,) = unit_values(unit.text, "Container", "HealthCmd")
    return command


def test_health_command_asks_the_api(files: list[RenderedFile], health_endpoint: int) -> None:
    """Run as podman runs it (``/bin/sh -c``), pointed at a stand-in for Vector's API."""
    command = _health_cmd(files).replace("8686", str(health_endpoint))
    assert subprocess.run(["/bin/sh", "-c", command], check=False, timeout=10).returncode == 0
    closed = command.replace(str(health_endpoint), "1")
    assert subprocess.run(["/bin/sh", "-c", closed], check=False, timeout=10).returncode != 0


def test_quadlet_passes_the_health_command_on_intact(
    tmp_path: Path, files: list[RenderedFile]
) -> None:
    write_tree(tmp_path / "tree", files)
    (unit,) = [f for f in files if f.path.name == "vector.container"]
    run = subprocess.run(
        [str(require_tool("quadlet")), "-dryrun", "-user", "-no-kmsg-log"],
        env={**os.environ, "QUADLET_UNIT_DIRS": str(tmp_path / "tree" / unit.path.parent)},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    (exec_start,) = re.findall(r"^ExecStart=(.*)$", run.stdout, re.MULTILINE)
    words = shlex.split(exec_start)
    assert words[words.index("--health-cmd") + 1] == _health_cmd(files)
    image = f"docker.io/timberio/vector:{VECTOR_VERSION}-debian"
    # The image, then Vector's own arguments: the config, and the shutdown the quadlet's
    # StopTimeout waits for.
    command = words[words.index(image) + 1 :]
    assert command[:2] == ["--config", "/etc/vector/vector.yaml"], command
    assert command[2:] == ["--graceful-shutdown-limit-secs", "60"], command
