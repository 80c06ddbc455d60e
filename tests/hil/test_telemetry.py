"""Cadence and sanity: live readings at the configured period (±10 %), a cold junction at
room temperature, a flame voltage the board's ADC can produce, the host's schema version."""

from __future__ import annotations

import itertools
import statistics
from typing import Any

import pytest

from sensor_protocol import SCHEMA_VERSION
from sensor_protocol.fields import fault_names
from tests.hil.bench import Bench
from tests.hil.report import Report
from tests.support.recorder import Message

READINGS = 6
TOLERANCE = 0.10
ROOM_C = (10.0, 40.0)
"""Where a bench board's cold junction (the MAX31856 itself) sits."""

Live = list[tuple[Message, dict[str, Any]]]


@pytest.fixture(scope="module")
def live(bench: Bench) -> Live:
    return bench.live_readings(READINGS)


def test_telemetry_comes_at_the_configured_period(bench: Bench, live: Live, report: Report) -> None:
    period = bench.sample_period_s
    seqs = [reading["seq"] for _, reading in live]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "readings were skipped"
    steps = [(b["up_ms"] - a["up_ms"]) / 1000 for (_, a), (_, b) in itertools.pairwise(live)]
    arrivals = [b.received - a.received for (a, _), (b, _) in itertools.pairwise(live)]
    report.measured(
        "cadence",
        "period (board clock)",
        f"{statistics.mean(steps):.3f} s, {min(steps):.3f}-{max(steps):.3f} (set {period:g} s)",
    )
    report.measured("cadence", "period (arrival here)", f"{statistics.mean(arrivals):.3f} s")
    assert all(abs(step - period) <= TOLERANCE * period for step in steps), steps
    assert abs(statistics.mean(arrivals) - period) <= TOLERANCE * period, arrivals


def test_readings_are_sane(bench: Bench, live: Live, report: Report) -> None:
    settings = bench.settings
    divider = float(settings["FLAME_DIVIDER_RATIO"])
    offset = float(settings["FLAME_OFFSET_V"])
    full_scale = float(bench.facts["adc_full_scale_v"]) * divider
    flame_range = (min(offset, 0.0), full_scale + max(offset, 0.0))
    cold = [reading["cj_c"] for _, reading in live]
    flame = [reading["flame_v"] for _, reading in live]
    faults = {name for _, reading in live for name in fault_names(reading["faults"])}
    assert None not in cold and None not in flame, live
    report.measured("sanity", "cold junction", f"{min(cold):.2f}-{max(cold):.2f} C")
    report.measured(
        "sanity",
        "flame",
        f"{min(flame):.3f}-{max(flame):.3f} V (ADC range at the rod "
        f"{flame_range[0]:g}-{flame_range[1]:.3f} V)",
    )
    report.measured("sanity", "thermocouple", ", ".join(sorted(faults)) or "no faults")
    report.measured("sanity", "schema version", f"{live[0][1]['v']} (host {SCHEMA_VERSION})")
    assert all(reading["v"] == SCHEMA_VERSION for _, reading in live)
    assert bench.facts["schema"] == SCHEMA_VERSION
    assert all(ROOM_C[0] <= value <= ROOM_C[1] for value in cold), cold
    assert all(flame_range[0] <= value <= flame_range[1] for value in flame), flame
