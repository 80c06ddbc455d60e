"""``sensor-bridge deploy`` subcommands that need no checker, and the validation verdict."""

from __future__ import annotations

import json
from pathlib import Path

from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, UNAVAILABLE, CheckResult
from sensor_bridge.install.validation import checker_names, failures
from sensor_bridge.local.examples import example_site
from sensor_bridge.tree import render_site
from tests.support.cli import run


def test_plan_lists_every_file_of_a_blank_root_and_writes_nothing(tmp_path: Path) -> None:
    site_file = example_site(tmp_path / "site")
    root = tmp_path / "root"
    root.mkdir()

    result = run("deploy", "plan", "--site", str(site_file), "--root", str(root))

    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert {c["path"] for c in plan["changed"]} == {str(f.path) for f in render_site(site_file)}
    assert {c["status"] for c in plan["changed"]} == {"new"}
    assert list(root.iterdir()) == []


def test_rollback_without_a_previous_set(tmp_path: Path) -> None:
    result = run("deploy", "rollback", "--root", str(tmp_path))
    assert result.exit_code == 0
    assert result.output == "nothing to roll back: no previous set is kept\n"


def test_verify_names_each_service_that_does_not_answer(tmp_path: Path) -> None:
    site_file = example_site(tmp_path / "site")
    # No stack runs on a test machine (the tests start theirs on free ports, never on the
    # stack's fixed ones): each service the Pi would run is named.
    result = run("deploy", "verify", "--site", str(site_file), "--timeout", "0")
    assert result.exit_code == 1
    named = {line.split()[1].rstrip(":") for line in result.output.splitlines()}
    assert {"victoriametrics", "vmalert", "vector", "alloy"} <= named


def test_on_the_pi_a_file_needs_one_real_check() -> None:
    results = [
        CheckResult("vector.yaml", "vrl-python", "-", NOT_CHECKED),
        CheckResult("vector.yaml", "vector validate", "0.57.0", OK),
        CheckResult("config.alloy", "alloy validate", "-", UNAVAILABLE),
        CheckResult("rules.yaml", "vmalert", "1.112.0", FAILED, "bad expr"),
    ]
    assert [(r.file, r.tool) for r in failures(results, every_tool=True)] == [
        ("rules.yaml", "vmalert"),
        ("config.alloy", "alloy validate"),
    ]
    assert [r.file for r in failures(results, every_tool=False)] == ["rules.yaml"]


def test_a_changed_file_without_its_own_check_runs_its_services_checker(tmp_path: Path) -> None:
    files = render_site(example_site(tmp_path / "site"))
    (acl,) = [f for f in files if f.path.name.endswith(".acl")]
    assert acl.check is None
    assert checker_names([acl], files) == ["mosquitto"]
