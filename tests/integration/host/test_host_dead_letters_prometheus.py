"""The dead-letter alert and panel on Prometheus' own engine (``promtool test rules``): Grafana
Cloud's Mimir evaluates PromQL as Prometheus does, so the panel must count the first dead letter
of a new reason there too. The same history runs on VictoriaMetrics in
test_host_dead_letters_victoriametrics.py."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sensor_bridge.alerting import alerts
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.tools import require_tool
from sensor_bridge.site import Site
from tests.support import dead_letters as history


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return example_context(tmp_path / "site").site


def _input_series(site: Site) -> list[dict[str, str]]:
    series = []
    for reason in history.REASONS:
        values = [reason.samples.get(minute) for minute in range(history.EVAL_MIN + 1)]
        labels = history.labels(site, reason)
        name = labels.pop("__name__")
        selector = name + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        text = " ".join("_" if value is None else f"{value:g}" for value in values)
        series.append({"series": selector, "values": text})
    return series


def _without_annotations(rule: dict[str, Any]) -> dict[str, Any]:
    # Their wording is not under test; promtool would compare it.
    return {key: value for key, value in rule.items() if key != "annotations"}


def _promtool(tmp_path: Path, rule: dict[str, Any], tests: dict[str, Any]) -> None:
    promtool = require_tool("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "host", "rules": [rule]}]}))
    case = tmp_path / "test.yaml"
    case.write_text(yaml.safe_dump({"rule_files": [str(rules)], "tests": [tests]}))
    run = subprocess.run(
        [str(promtool), "test", "rules", str(case)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_panel_counts_every_dead_letter_on_prometheus(tmp_path: Path, site: Site) -> None:
    expected = history.expected(site)
    _promtool(
        tmp_path,
        _without_annotations(history.alert_rule(site, site.alerts.dead_letters_per_hour)),
        {
            "interval": "1m",
            "input_series": _input_series(site),
            "promql_expr_test": [
                {
                    "expr": history.panel_expr(site),
                    "eval_time": f"{history.EVAL_MIN}m",
                    "exp_samples": [
                        {"labels": f'{{reason="{reason}"}}', "value": value}
                        for reason, value in sorted(expected.items())
                    ],
                }
            ],
        },
    )


@pytest.mark.parametrize(
    ("limit", "fires"), [(history.total() - 1, True), (history.total(), False)]
)
def test_the_alert_counts_every_dead_letter_on_prometheus(
    tmp_path: Path, site: Site, limit: int, fires: bool
) -> None:
    """One more dead letter than the limit fires, the limit itself does not: every reason's
    first dead letter counts."""
    rule = _without_annotations(history.alert_rule(site, limit))
    firing = [{"exp_labels": {**rule["labels"], "studio": site.studio}}] if fires else []
    _promtool(
        tmp_path,
        rule,
        {
            "interval": "1m",
            "input_series": _input_series(site),
            "alert_rule_test": [
                {
                    "alertname": alerts.DEAD_LETTERS,
                    "eval_time": f"{history.EVAL_MIN}m",
                    "exp_alerts": firing,
                }
            ],
        },
    )
