"""What the demo does, when: one table of scenarios, each a description and timed steps.

A step's ``at_s`` counts from the moment both furnaces publish and the alert rules run. Its
``action`` is a key of ``sensor_bridge.demo.actions.ACTIONS`` (on the stack, or on the furnace
named by ``device``); ``expect`` says what the viewer should see happen next.

The furnaces are the example site's two devices; the timings follow its thresholds
(flame_out_for 10s, no_data_for 2m) and vmalert's 5 s shop interval plus the storage's 5 s
latency offset, so an alert lands about 15-25 s after its cause.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

FURNACE_A = "furnace-1"
FURNACE_B = "glory-hole"


@dataclass(frozen=True)
class Step:
    at_s: float
    action: str
    device: str | None = None
    expect: str = ""


@dataclass(frozen=True)
class Scenario:
    description: str
    end_s: float
    steps: tuple[Step, ...]


DEFAULT_SCENARIO = "story"

SCENARIOS: dict[str, Scenario] = {
    "story": Scenario(
        "Normal firing; the broker restarts (nothing lost); the glory hole's flame goes out "
        "(the owner is paged within seconds); it is relit (the all-clear follows).",
        end_s=170,
        steps=(
            Step(0, "note", expect="normal firing: both furnaces hold their set points"),
            Step(25, "broker-restart", expect="boards reconnect; no reading is lost"),
            Step(55, "flame-out", FURNACE_B, expect="FlameOut pages the owner in ~20 s"),
            Step(110, "relight", FURNACE_B, expect="FlameOut resolves; the owner hears so"),
            Step(160, "note", expect="the run ends: summary and plot follow"),
        ),
    ),
    "outage": Scenario(
        "furnace-1 loses its network for 2.5 minutes: it buffers its readings, 'no data' "
        "pages the owner, then the backfill lands complete and the alert resolves.",
        end_s=230,
        steps=(
            Step(10, "network-down", FURNACE_A, expect="DeviceNoData after no_data_for (2m)"),
            Step(160, "network-up", FURNACE_A, expect="backfill of the buffered readings"),
            Step(220, "note", expect="stored = published, the gap filled"),
        ),
    ),
    "sensor-fault": Scenario(
        "furnace-1's thermocouple opens: the reading becomes a fault, not a temperature "
        "(ThermocoupleFault, no temperature alert), then the sensor is fixed.",
        end_s=110,
        steps=(
            Step(
                10,
                "thermocouple-open",
                FURNACE_A,
                expect="ThermocoupleFault pages the owner in ~40 s (it must hold 30 s)",
            ),
            Step(70, "thermocouple-fixed", FURNACE_A, expect="the fault clears and resolves"),
        ),
    ),
    "restarts": Scenario(
        "Every link of the chain restarts in turn (pipeline, storage, broker) while both "
        "furnaces publish: nothing is lost, nothing doubled.",
        end_s=90,
        steps=(
            Step(15, "pipeline-restart", expect="the broker queues for the pipeline"),
            Step(40, "storage-restart", expect="the pipeline retries the store"),
            Step(65, "broker-restart", expect="boards and pipeline reconnect"),
        ),
    ),
    "flame-out": Scenario(
        "The shortest page: the glory hole's flame goes out and stays out (about 30 s).",
        end_s=30,
        steps=(Step(2, "flame-out", FURNACE_B, expect="FlameOut pages the owner in ~20 s"),),
    ),
}


def timeline(
    scenario: Scenario, *, speed: float = 1.0, duration_s: float | None = None
) -> Scenario:
    """``scenario`` with its step times and end divided by ``speed``; ``duration_s`` replaces
    the end (steps after it are dropped)."""
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    end_s = scenario.end_s / speed if duration_s is None else duration_s
    steps = tuple(replace(step, at_s=step.at_s / speed) for step in scenario.steps)
    return Scenario(scenario.description, end_s, tuple(s for s in steps if s.at_s <= end_s))
