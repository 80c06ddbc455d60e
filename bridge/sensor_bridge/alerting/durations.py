"""Durations as the site file, the rules and the command line write them (a whole number and
one unit: ``30s``, ``5m``, ``14d``, ``100y``), and times of day (``20:00``); parsed here only.
"""

from __future__ import annotations

import re

PATTERN = re.compile(r"^([1-9][0-9]*)(ms|s|m|h|d|w|y)$")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31557600}
"""A year is 365.25 days."""


def split(duration: str) -> tuple[int, str]:
    """``(number, unit)`` of ``duration``; ValueError, saying what is expected, for anything
    else."""
    match = PATTERN.match(duration)
    if match is None:
        raise ValueError(f"{duration!r} is not a duration like 30s, 5m, 14d or 100y")
    return int(match[1]), match[2]


def seconds(duration: str) -> float:
    """``duration`` in seconds; ValueError when it is not one."""
    number, unit = split(duration)
    return number * UNIT_SECONDS[unit]


def clock_seconds(clock: str) -> int:
    """Seconds after midnight at ``HH:MM`` (the site file holds only valid times of day)."""
    hours, minutes = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60
