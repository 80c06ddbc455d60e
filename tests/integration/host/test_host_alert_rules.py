"""The alert rules with the real vmalert: their unit tests (vmalert-tool), the checker
(``vmalert -dryRun``) and ``alerts replay`` over history in a real VictoriaMetrics."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sensor_bridge.alerting import alerts, promql
from sensor_bridge.alerting.runner import run_rule_tests
from sensor_bridge.checks import FAILED, OK
from sensor_bridge.checks import vmalert as check_vmalert
from sensor_bridge.local import remote_write
from sensor_bridge.local.examples import example_context, example_site
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.render import RenderedFile, victoriametrics, vmalert
from sensor_bridge.tree import write_tree
from tests.support.cli import run

pytestmark = pytest.mark.slow


def test_rule_unit_tests_pass_with_vmalert_tool(tmp_path: Path) -> None:
    site = example_context(tmp_path / "site").site
    results = run_rule_tests(site, tmp_path)
    for result in results:
        print(f"{result.file}: {result.cases} cases, {result.seconds:.1f} s")
        assert result.passed, result.output
    assert sum(r.cases for r in results) > 30


def test_checker_accepts_rendered_rules_and_names_a_broken_one(tmp_path: Path) -> None:
    context = example_context(tmp_path / "site")
    rules, _ = vmalert.render(context)
    broken = RenderedFile(
        rules.path.with_name("broken.yaml"),
        rules.text.replace("max_over_time(", "max_over_time((", 1),
        check="vmalert",
    )
    write_tree(tmp_path / "tree", [rules, broken])
    good, bad = check_vmalert.check(tmp_path / "tree", [rules, broken])
    assert good.result == OK, good.detail
    assert bad.result == FAILED and "broken.yaml" in bad.detail


def test_replay_prints_the_flame_out_in_stored_history(tmp_path: Path) -> None:
    context = example_context(tmp_path / "site")
    (unit,) = victoriametrics.render(context)
    now_s = int(time.time()) // 60 * 60
    start = now_s - 3600
    out_from, out_to = start + 1200, start + 1500
    labels = {"studio": "studio-1", "device": "furnace-1"}
    stamps = range(start, start + 1800, 5)
    with VictoriaMetrics(tmp_path, unit.text) as server:
        remote_write.write(
            server.urls.remote_write,
            [
                remote_write.Series(
                    {"__name__": promql.FLAME, **labels},
                    [(t * 1000, 0.05 if out_from <= t < out_to else 3.5) for t in stamps],
                ),
                remote_write.Series(
                    {"__name__": promql.TEMPERATURE, **labels},
                    [(t * 1000, 1100.0) for t in stamps],
                ),
                remote_write.Series(
                    {"__name__": promql.SEQUENCE, **labels},
                    [(t * 1000, float(i)) for i, t in enumerate(stamps)],
                ),
            ],
        )
        server.flush()
        site_file = example_site(tmp_path / "site")
        begin = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        end = datetime.fromtimestamp(start + 1800, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        result = run(
            "alerts",
            "replay",
            "--site",
            str(site_file),
            "--from",
            begin,
            "--to",
            end,
            "--url",
            server.url,
        )
    print(result.output)
    assert result.exit_code == 0, result.output
    flame_out = [line for line in result.output.splitlines() if f"  {alerts.FLAME_OUT}  " in line]
    assert len(flame_out) == 1 and "device=furnace-1" in flame_out[0], result.output
    first = datetime.strptime(flame_out[0].split()[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert out_from <= first.timestamp() <= out_from + 20
    assert not any(f"  {alerts.FURNACE_TOO_COLD}  " in line for line in result.output.splitlines())
