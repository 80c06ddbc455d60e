"""The dead-letter alert's and panel's query on the real VictoriaMetrics (the rendered flags),
on the same history as Prometheus gets in test_host_dead_letters_prometheus.py: both engines must
count every dead letter of the hour, a new reason's first one included."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor_bridge.local import remote_write
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.render import RenderContext, victoriametrics
from tests.support import dead_letters as history

MINUTE_MS = 60_000


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path / "site")


@pytest.fixture
def server(tmp_path: Path, context: RenderContext) -> Iterator[VictoriaMetrics]:
    (unit,) = victoriametrics.render(context)
    (tmp_path / "vm").mkdir()
    with VictoriaMetrics(tmp_path / "vm", unit.text) as running:
        yield running


def _written(server: VictoriaMetrics, context: RenderContext) -> int:
    """The history written as the remote-write sink writes it; the evaluation time (ms)."""
    # A minute back: VictoriaMetrics hides the newest samples (-search.latencyOffset).
    at_ms = (int(time.time()) - 60) * 1000
    start_ms = at_ms - history.EVAL_MIN * MINUTE_MS
    series = [
        remote_write.Series(
            history.labels(context.site, reason),
            [(start_ms + minute * MINUTE_MS, value) for minute, value in reason.samples.items()],
        )
        for reason in history.REASONS
    ]
    assert remote_write.write(server.urls.remote_write, series) == 204
    server.flush()
    return at_ms


def test_the_panel_counts_every_dead_letter(
    server: VictoriaMetrics, context: RenderContext
) -> None:
    at_ms = _written(server, context)
    result = server.query(history.panel_expr(context.site), at_ms / 1000)
    got = {r["metric"]["reason"]: float(r["value"][1]) for r in result}
    assert got == history.expected(context.site)


@pytest.mark.parametrize(
    ("limit", "fires"), [(history.total() - 1, True), (history.total(), False)]
)
def test_the_alert_counts_every_dead_letter(
    server: VictoriaMetrics, context: RenderContext, limit: int, fires: bool
) -> None:
    """vmalert fires on what its rule's query returns."""
    at_ms = _written(server, context)
    result = server.query(history.alert_rule(context.site, limit)["expr"], at_ms / 1000)
    firing = [({"studio": context.site.studio}, history.total())] if fires else []
    assert [(r["metric"], float(r["value"][1])) for r in result] == firing
