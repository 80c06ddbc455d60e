"""Soak (``--soak HOURS``): the board runs untouched while its health reports are collected;
it fails on a memory trend (a leak) or a loop slower than the budget, and prints a table."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sensor_protocol.payloads import decode_health
from tests.hil.bench import Bench
from tests.hil.report import Report

NOISE_BYTES = 2048
"""Free memory moves this much with no leak (a garbage collection, a buffer in use)."""
LEAK_FRACTION_PER_DAY = 0.10
"""A trend that would eat this share of the free memory in a day is a leak."""
TABLE_ROWS = 12


def memory_slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(x, y)`` samples: bytes per unit of x."""
    count = len(samples)
    mean_x = sum(x for x, _ in samples) / count
    mean_y = sum(y for _, y in samples) / count
    spread = sum((x - mean_x) ** 2 for x, _ in samples)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in samples) / spread


def _table(health: list[dict[str, Any]]) -> list[list[str]]:
    step = max(1, len(health) // TABLE_ROWS)
    rows = [["uptime s", "mem_free", "max_loop_s", "reconnects", "buffer"]]
    for report in health[::step]:
        rows.append(
            [
                str(report["uptime_s"]),
                str(report["mem_free"]),
                f"{report['max_loop_s']:.3f}",
                str(report["reconnects"]),
                str(report["buffer_depth"]),
            ]
        )
    return rows


@pytest.mark.needs("soak", ("soak",), "run with --soak HOURS")
def test_soak(bench: Bench, report: Report) -> None:
    hours = bench.options.soak_hours
    assert hours is not None
    bench.fresh_reading()
    mark = bench.watch.mark()
    time.sleep(hours * 3600)
    health = [decode_health(m.payload) for m in bench.watch.since(mark, "health")]
    period = bench.settings["HEALTH_PERIOD_S"]
    assert len(health) >= 2, f"{len(health)} health reports: soak longer than 2 x {period} s"
    assert len({h["boot"] for h in health}) == 1, "the board rebooted during the soak"

    hours_run = (health[-1]["uptime_s"] - health[0]["uptime_s"]) / 3600
    slope = memory_slope([(h["uptime_s"] / 3600, h["mem_free"]) for h in health])
    lost = -slope * hours_run
    per_day = -slope * 24
    leaking = lost > NOISE_BYTES and per_day > LEAK_FRACTION_PER_DAY * health[0]["mem_free"]
    longest = max(h["max_loop_s"] for h in health)
    reconnects = health[-1]["reconnects"] - health[0]["reconnects"]

    report.table(
        f"soak: {len(health)} health reports over {hours_run * 60:.1f} min", _table(health)
    )
    report.measured(
        "soak", "free memory trend", f"{slope:+.0f} bytes/hour ({-lost:+.0f} bytes over the run)"
    )
    report.measured(
        "soak", "longest loop", f"{longest:.3f} s (budget {bench.options.loop_budget_s:g} s)"
    )
    report.measured("soak", "reconnects", reconnects)
    assert not leaking, f"free memory falls {-slope:.0f} bytes/hour"
    assert longest <= bench.options.loop_budget_s
