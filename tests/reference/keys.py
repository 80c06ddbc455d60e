"""Every key of a rendered config, checked against a table of accepted options."""

from __future__ import annotations

from typing import Any

from tests.reference import Options


def unknown_keys(value: Any, accepted: Options | None, where: str) -> list[str]:
    """The paths in ``value`` that ``accepted`` does not list (empty when all are known)."""
    if isinstance(value, list):
        return [p for item in value for p in unknown_keys(item, accepted, where)]
    if not isinstance(value, dict):
        return []
    if accepted is None:
        # The reference has a value here, not options: an Alloy attribute given as a block, or
        # a Vector option given an object.
        return [f"{where}: an object where the reference has a value"]
    problems = []
    for key, item in value.items():
        path = f"{where}.{key}" if where else key
        if key in accepted:
            problems += unknown_keys(item, accepted[key], path)
        elif "*" in accepted:
            problems += unknown_keys(item, accepted["*"], path)
        else:
            problems.append(path)
    return problems
