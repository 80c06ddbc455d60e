"""Each test carries its directory's marker (tests/conftest.py), so `pytest -m unit` selects
exactly tests/unit."""

import pytest


def test_a_unit_test_is_marked_unit_and_nothing_else(request: pytest.FixtureRequest) -> None:
    tiers = {"unit", "integration", "system", "hil"}
    assert {mark.name for mark in request.node.iter_markers()} & tiers == {"unit"}
