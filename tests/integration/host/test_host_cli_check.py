"""``sensor-bridge check``: the table, the exit code, --strict, and the whole example site."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sensor_bridge.checks import victoriametrics as check_victoriametrics
from sensor_bridge.local.examples import example_site
from sensor_bridge.registry import VICTORIAMETRICS
from sensor_bridge.site import load_site
from sensor_bridge.store.urls import DEFAULT_URL
from tests.support.cli import broker_and_storage_only, run

CONF = "etc/mosquitto/conf.d/sensor-pipeline.conf"


@pytest.fixture
def site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    broker_and_storage_only(monkeypatch)
    return example_site(tmp_path / "site")


def test_check_renders_to_a_temp_dir_and_prints_the_table(site_file: Path) -> None:
    result = run("check", "--site", str(site_file), "--strict")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["file", "tool", "version", "result"]
    assert lines[1].split()[:2] == [CONF, "mosquitto"]
    assert lines[1].split()[-1] == "ok"
    assert lines[-1] == "7 ok, 0 failed, 0 not checked, 0 no binary here"


def test_check_a_rendered_dir_finds_a_broken_file(site_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("render", "--site", str(site_file), "--out", str(out))
    conf = out / CONF
    conf.write_text(conf.read_text().replace("max_packet_size", "max_packet_sise"))
    result = run("check", str(out), "--site", str(site_file))
    assert result.exit_code == 1
    assert 'Error: Unknown configuration variable "max_packet_sise".' in result.output
    assert result.output.splitlines()[-1] == "2 ok, 5 failed, 0 not checked, 0 no binary here"


def test_check_a_dir_missing_a_file(site_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("render", "--site", str(site_file), "--out", str(out))
    (out / "etc/mosquitto/sensor-pipeline.acl").unlink()
    result = run("check", str(out), "--site", str(site_file))
    assert result.exit_code == 1
    assert f"not in {out}: run sensor-bridge render" in result.output


def test_missing_tool_fails_only_with_strict(
    site_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_victoriametrics, "find_tool", lambda name: None)
    relaxed = run("check", "--site", str(site_file))
    assert relaxed.exit_code == 0
    assert relaxed.output.splitlines()[-1] == "6 ok, 0 failed, 1 not checked, 0 no binary here"
    strict = run("check", "--site", str(site_file), "--strict")
    assert strict.exit_code == 1


@pytest.mark.parametrize(
    "storage",
    [
        f'url = "{DEFAULT_URL}"',
        'insert_url = "http://vminsert:8480/insert/3/prometheus"\n'
        'select_url = "http://vmselect:8481/select/3/prometheus"',
    ],
    ids=["single-node", "cluster"],
)
def test_whole_example_site_renders_and_checks(tmp_path: Path, storage: str) -> None:
    """The installed entry point on every service, strict: every file is validated by its
    real tool (Vector's own validate/test only where a vector binary exists). With a cluster
    store, everything but VictoriaMetrics' quadlet."""
    site_file = example_site(tmp_path / "site")
    site_file.write_text(site_file.read_text().replace(f'url = "{DEFAULT_URL}"', storage, 1))
    program = str(Path(sys.executable).parent / "sensor-bridge")
    site, out = ["--site", str(site_file)], str(tmp_path / "out")
    rendered = subprocess.run(
        [program, "render", *site, "--out", out], capture_output=True, text=True, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    checked = subprocess.run(
        [program, "check", out, *site, "--strict"], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[-1].split(", ")[1] == "0 failed", checked.stdout
    local = VICTORIAMETRICS.runs_here(load_site(site_file))
    # A cluster store runs elsewhere: nothing of VictoriaMetrics is rendered to check.
    assert any("  victoria-metrics  " in line for line in lines) is local, checked.stdout
    for tool in ("mosquitto", "podman quadlet", *(["victoria-metrics"] if local else [])):
        rows = [line for line in lines if f"  {tool}  " in line]
        assert rows, (tool, checked.stdout)
        assert all(line.endswith("  ok") for line in rows), (tool, checked.stdout)


def test_strict_check_fails_on_a_vector_config_that_needs_interpolation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vector 0.57 leaves ${NAME} as written: the check says so in one line, with the fix."""
    from sensor_bridge import checks, render
    from sensor_bridge.checks import vector as check_vector
    from sensor_bridge.render import vector

    monkeypatch.setattr(render, "renderers", lambda site: [vector.render])
    monkeypatch.setattr(checks, "checkers", lambda: {"vector": check_vector.check})
    site_file = example_site(tmp_path / "site")
    out = tmp_path / "out"
    assert run("render", "--site", str(site_file), "--out", str(out)).exit_code == 0
    config = out / "home/sensor/.config/sensor-pipeline/vector/vector.yaml"
    secret = "'SECRET[sensor_pipeline.mqtt_password]'"
    config.write_text(config.read_text().replace(secret, "${SENSOR_PIPELINE_MQTT_PASSWORD}"))
    result = run("check", str(out), "--site", str(site_file), "--strict")
    assert result.exit_code == 1
    (detail,) = [line for line in result.output.splitlines() if "needs environment" in line]
    assert detail.strip().startswith("line ")
    assert "'${SENSOR_PIPELINE_MQTT_PASSWORD}' needs environment interpolation" in detail
    assert "SECRET[sensor_pipeline.key]" in detail
