"""The demo's scenario table, its timeline scaling and its command line."""

from __future__ import annotations

import pytest

from sensor_bridge.demo.actions import ACTIONS
from sensor_bridge.demo.processes import scenario_listing
from sensor_bridge.demo.scenarios import DEFAULT_SCENARIO, SCENARIOS, Scenario, Step, timeline
from sensor_bridge.local.examples import SITE_EXAMPLE
from sensor_bridge.site import load_site
from tests.support.cli import run


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_is_playable_on_the_example_site(name: str) -> None:
    scenario = SCENARIOS[name]
    devices = {device.id for device in load_site(SITE_EXAMPLE).devices}
    assert scenario.description
    assert scenario.steps
    times = [step.at_s for step in scenario.steps]
    assert times == sorted(times)
    assert all(0 <= at < scenario.end_s for at in times)
    for step in scenario.steps:
        action = ACTIONS[step.action]
        if action.on_device:
            assert step.device in devices, step
        else:
            assert step.device is None, step


def test_the_default_story_tells_the_issue_s_story() -> None:
    actions = [(step.action, step.device) for step in SCENARIOS[DEFAULT_SCENARIO].steps]
    restart = actions.index(("broker-restart", None))
    out = actions.index(("flame-out", "glory-hole"))
    relit = actions.index(("relight", "glory-hole"))
    assert restart < out < relit


def test_speed_scales_the_timeline_and_duration_cuts_it() -> None:
    scenario = Scenario("x", 100, (Step(10, "note"), Step(60, "broker-restart")))
    faster = timeline(scenario, speed=2)
    assert faster.end_s == 50
    assert [step.at_s for step in faster.steps] == [5, 30]
    cut = timeline(scenario, duration_s=30)
    assert cut.end_s == 30
    assert [step.at_s for step in cut.steps] == [10]
    with pytest.raises(ValueError):
        timeline(scenario, speed=0)


def test_listing_names_every_scenario_and_step() -> None:
    result = run("demo", "--list-scenarios")
    assert result.exit_code == 0
    listing = result.stdout
    assert listing == scenario_listing() + "\n"
    for name in SCENARIOS:
        assert listing.count(f"\n{name}") + listing.startswith(name) == 1
    assert "glory-hole: flame out" in listing
    assert f"{DEFAULT_SCENARIO} (default)" in listing


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--speed", "0"], "--speed"),
        (["--duration", "-5"], "--duration"),
        (["--scenario", "nope"], "--scenario"),
        (["--speed", "fast"], "--speed"),
    ],
)
def test_bad_options_are_one_line_usage_errors(argv: list[str], named: str) -> None:
    result = run("demo", *argv)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"sensor-bridge demo: Invalid value for '{named}'")


def test_speed_help_says_what_stays_in_real_time() -> None:
    text = " ".join(run("demo", "--help").stdout.split())
    assert "real time" in text
    assert "--list-scenarios" in text
