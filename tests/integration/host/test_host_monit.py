"""monit on the rendered files: ``monit -t`` through the checker, and a real monit daemon whose
data-flow check (the rendered block, its program and systemctl replaced by test stand-ins)
restarts Vector when the check fails, and does nothing while it passes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sensor_bridge.checks import FAILED, OK
from sensor_bridge.checks import monit as check_monit
from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.tools import require_tool
from sensor_bridge.render import monit
from sensor_bridge.tree import write_tree

WAIT_S = 15.0


def test_rendered_files_pass_monit_t(tmp_path: Path) -> None:
    files = monit.render(example_context(tmp_path / "site"))
    write_tree(tmp_path / "tree", files)
    results = check_monit.check(tmp_path / "tree", files)
    assert [(r.file, r.result) for r in results] == [
        (str(monit.CONTROL_PATH), OK),
        (str(monit.CHECKS_PATH), OK),
    ], results
    assert all(r.version not in ("", "-", "?") for r in results)


def test_a_broken_check_fails_with_monits_own_line(tmp_path: Path) -> None:
    files = monit.render(example_context(tmp_path / "site"))
    broken = [
        dataclasses.replace(f, text=f.text.replace("if status = 1", "if statuz = 1"))
        if f.path == monit.CHECKS_PATH
        else f
        for f in files
    ]
    results = check_monit.check(tmp_path, broken)
    assert {r.result for r in results} == {FAILED}
    assert "sensor-pipeline:" in results[0].detail and "syntax error" in results[0].detail


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def _wait(condition: object, what: str, daemon: Service) -> None:
    assert callable(condition)
    if not daemon.wait_until(condition, WAIT_S):
        raise AssertionError(f"{what} within {WAIT_S} s; monit said: {daemon.output()[-2000:]}")


def test_a_failing_dataflow_check_restarts_vector_and_a_passing_one_does_not(
    tmp_path: Path,
) -> None:
    context = example_context(tmp_path / "site")
    runs, verdict, restarts = tmp_path / "runs", tmp_path / "exit-status", tmp_path / "restarts"
    verdict.write_text("0")
    options = monit.Options(
        cycle_s=1,
        start_delay_s=0,
        httpd_port=free_port(),
        state_dir=str(tmp_path),
        log=str(tmp_path / "monit.log"),
        pid_file=str(tmp_path / "monit.pid"),
        include_dir=str(tmp_path / "conf.d"),
        # `sensor-bridge dataflow` with the exit status the test sets, counting its runs.
        sensor_bridge=str(
            _script(
                tmp_path / "sensor-bridge",
                f'status=$(cat {verdict})\necho "$status $*" >>{runs}\nexit "$status"',
            )
        ),
        # systemctl records what it was asked to do.
        systemctl=str(_script(tmp_path / "systemctl", f'echo "$@" >>{restarts}')),
    )
    block = monit.dataflow_check(context.site, options)
    assert block in monit.checks(context.site, options)
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "dataflow").write_text(block + "\n")
    control = tmp_path / "monitrc"
    control.touch(mode=0o600)
    control.write_text(monit.control_file(context.site, context.secrets, options))

    daemon = Service([require_tool("monit"), "-I", "-c", control], tmp_path / "monit.out")
    with daemon:
        # Passing: several runs, no restart.
        _wait(lambda: runs.exists() and len(runs.read_text().splitlines()) >= 4, "4 runs", daemon)
        assert not restarts.exists(), restarts.read_text()
        site_file = context.site.path.absolute()
        assert runs.read_text().splitlines()[0] == f"0 dataflow --site {site_file}"

        # Failing (exit 1, stale data): Vector is restarted through the service user's manager.
        verdict.write_text("1")
        _wait(restarts.exists, "a restart", daemon)
        user = context.site.service_user.name
        assert restarts.read_text().splitlines() == [
            f"--user --machine={user}@.host restart vector.service"
        ]
