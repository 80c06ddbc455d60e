"""Temperatures as the site shows them (``alerts.temperature_unit``, C or F); storage stays °C.

The one conversion, °F = °C * 9 / 5 + 32, for numbers (thresholds, status, the demo, the rule
tests) and for queries (the rules, the dashboards): both apply the same constants.
"""

from __future__ import annotations

CELSIUS = "C"
FAHRENHEIT = "F"

_NUMERATOR = 9
_DENOMINATOR = 5
_OFFSET = 32


def in_unit(celsius: float, unit: str) -> float:
    if unit == FAHRENHEIT:
        return celsius * _NUMERATOR / _DENOMINATOR + _OFFSET
    return celsius


def query_in_unit(celsius_query: str, unit: str) -> str:
    """A query whose values are °C, as one whose values are in ``unit``; the result binds as a
    sum does, so it may stand on either side of a comparison."""
    if unit == FAHRENHEIT:
        return f"({celsius_query}) * {_NUMERATOR} / {_DENOMINATOR} + {_OFFSET}"
    return celsius_query
