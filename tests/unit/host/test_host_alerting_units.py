"""The one duration parser and the one temperature conversion every part of the host uses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sensor_bridge.alerting import durations, units
from sensor_bridge.silences import parse_duration


def test_durations_in_seconds_and_a_clear_refusal() -> None:
    assert durations.seconds("30s") == 30
    assert durations.seconds("500ms") == 0.5
    assert durations.seconds("14d") == 14 * 86400
    assert durations.seconds("1y") == 365.25 * 86400
    for wrong in ("0s", "5", "1.5h", "5 m", "m", "10 years"):
        with pytest.raises(ValueError, match="is not a duration like 30s, 5m, 14d or 100y"):
            durations.seconds(wrong)
    assert durations.clock_seconds("20:30") == 20 * 3600 + 30 * 60


def test_a_silence_lasts_minutes_to_weeks() -> None:
    assert parse_duration("8h") == timedelta(hours=8)
    assert parse_duration("1w") == timedelta(weeks=1)
    for wrong in ("30s", "500ms", "1y", "8"):
        with pytest.raises(ValueError, match="like 30m, 8h, 2d or 1w"):
            parse_duration(wrong)


def test_numbers_and_queries_convert_alike() -> None:
    assert units.in_unit(1250.0, units.CELSIUS) == 1250.0
    assert units.in_unit(100.0, units.FAHRENHEIT) == 212.0
    assert units.query_in_unit("x", units.CELSIUS) == "x"
    query = units.query_in_unit("1300 - 50", units.FAHRENHEIT)
    # The query, evaluated as arithmetic, is the number: one formula, not two.
    assert eval(query) == units.in_unit(1250.0, units.FAHRENHEIT) == 2282.0
    # It binds as a sum: a comparison on either side leaves it whole.
    assert eval(f"{query} > 2281") and eval(f"2283 > {query}")
