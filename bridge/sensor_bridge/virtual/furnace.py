"""The furnace the board is wired to: hot junction, cold junction and flame-rod voltage.

A gas furnace with a modulating burner: high fire below the set point's band, low fire
above it, the load's first-order lag in between (tau 30 min), so the temperature climbs
to the set point and then saw-tooths a few degrees around it. The flame stays lit on low
fire (the rod reads ~3.3 V, ~3.7 V on high fire); with the flame out the furnace cools
toward the room and the rod reads ~0.05 V. Turbulence puts ~0.8 C of correlated noise on
the thermocouple, the rod wanders slowly and jitters per read. The cold junction is the
board's air: 25 C, a slow daily-ish swing, a little warmth from the furnace.

The physical trajectory advances in fixed steps from its own seeded generator, so it is
the same whatever the sampling pattern; per-read noise has a generator of its own.
"""

import math
import random
import threading
from typing import Any, NamedTuple

STEP_S = 0.2
TAU_S = 1800.0
HIGH_FIRE_C = 1450.0
LOW_FIRE_C = 850.0
BAND_C = 4.0
AMBIENT_C = 25.0
TURBULENCE_C, TURBULENCE_TAU_S = 0.8, 3.0
ROD_HIGH_V, ROD_LOW_V, ROD_OUT_V = 3.7, 3.3, 0.05
ROD_WANDER_V, ROD_WANDER_TAU_S, ROD_JITTER_V, ROD_OUT_JITTER_V = 0.08, 20.0, 0.05, 0.01
CJ_SWING_C, CJ_SWING_PERIOD_S = 1.5, 3600.0
CJ_WALK_C, CJ_WALK_TAU_S, CJ_FURNACE_GAIN = 0.3, 600.0, 0.002


class FurnaceSample(NamedTuple):
    hot_c: float
    cold_junction_c: float
    flame_v: float


class FurnaceModel:
    def __init__(self, seed: int = 1, *, setpoint_c: float = 1100.0) -> None:
        self._lock = threading.Lock()
        self.setpoint_c = setpoint_c
        self.over_temp_c = 0.0
        self.flame_lit = True
        self._t = 0.0
        self._temp_c = setpoint_c - 100.0
        self._high_fire = True
        self._turbulence = 0.0
        self._wander = 0.0
        self._cj_walk = 0.0
        self._steps = random.Random(seed)
        self._reads = random.Random(seed + 1)

    def set(
        self,
        *,
        setpoint_c: float | None = None,
        flame: str | None = None,
        over_temp_c: float | None = None,
        temp_c: float | None = None,
    ) -> None:
        """Turn the knobs; ``over_temp_c`` drives the burner that much past the set point."""
        if flame not in (None, "lit", "out"):
            raise ValueError(f"flame must be 'lit' or 'out', got {flame!r}")
        with self._lock:
            if setpoint_c is not None:
                self.setpoint_c = float(setpoint_c)
            if flame is not None:
                self.flame_lit = flame == "lit"
            if over_temp_c is not None:
                self.over_temp_c = float(over_temp_c)
            if temp_c is not None:
                self._temp_c = float(temp_c)

    def sample(self, t: float) -> FurnaceSample:
        """The furnace at physical time ``t`` (never before the last step taken)."""
        with self._lock:
            self._advance(t)
            hot = self._temp_c + self._turbulence
            cold = (
                AMBIENT_C
                + CJ_SWING_C * math.sin(2 * math.pi * t / CJ_SWING_PERIOD_S)
                + self._cj_walk
                + CJ_FURNACE_GAIN * (self._temp_c - AMBIENT_C)
            )
            if self.flame_lit:
                level = ROD_HIGH_V if self._high_fire else ROD_LOW_V
                flame = level + self._wander + self._reads.gauss(0.0, ROD_JITTER_V)
            else:
                flame = ROD_OUT_V + self._reads.gauss(0.0, ROD_OUT_JITTER_V)
            return FurnaceSample(hot, cold, max(0.0, flame))

    def junctions(self, t: float) -> tuple[float, float]:
        """(hot, cold junction) for the thermocouple amplifier."""
        sample = self.sample(t)
        return sample.hot_c, sample.cold_junction_c

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "setpoint_c": self.setpoint_c,
                "over_temp_c": self.over_temp_c,
                "flame": "lit" if self.flame_lit else "out",
                "temp_c": round(self._temp_c, 3),
                "high_fire": self._high_fire,
            }

    def _advance(self, t: float) -> None:
        steps = int((t - self._t) / STEP_S)
        if steps <= 0:
            return
        turbulence_phi = math.exp(-STEP_S / TURBULENCE_TAU_S)
        wander_phi = math.exp(-STEP_S / ROD_WANDER_TAU_S)
        walk_phi = math.exp(-STEP_S / CJ_WALK_TAU_S)
        gauss = self._steps.gauss
        for _ in range(steps):
            if self.flame_lit:
                target = self.setpoint_c + self.over_temp_c
                if self._temp_c > target + BAND_C:
                    self._high_fire = False
                elif self._temp_c < target - BAND_C:
                    self._high_fire = True
                fire_c = HIGH_FIRE_C if self._high_fire else LOW_FIRE_C
                # Driven past the set point, the burner has to be able to get there.
                fire_c = max(fire_c, target + 2 * BAND_C) if self._high_fire else fire_c
            else:
                fire_c = AMBIENT_C
            self._temp_c += (fire_c - self._temp_c) * STEP_S / TAU_S
            self._turbulence = turbulence_phi * self._turbulence + TURBULENCE_C * math.sqrt(
                1 - turbulence_phi**2
            ) * gauss(0.0, 1.0)
            self._wander = wander_phi * self._wander + ROD_WANDER_V * math.sqrt(
                1 - wander_phi**2
            ) * gauss(0.0, 1.0)
            self._cj_walk = walk_phi * self._cj_walk + CJ_WALK_C * math.sqrt(
                1 - walk_phi**2
            ) * gauss(0.0, 1.0)
        self._t += steps * STEP_S

    # --- persistence across MCU resets (the furnace does not reboot) ------------------

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "setpoint_c": self.setpoint_c,
                "over_temp_c": self.over_temp_c,
                "flame_lit": self.flame_lit,
                "t": self._t,
                "temp_c": self._temp_c,
                "high_fire": self._high_fire,
                "turbulence": self._turbulence,
                "wander": self._wander,
                "cj_walk": self._cj_walk,
                "steps": _rng_state(self._steps),
                "reads": _rng_state(self._reads),
            }

    def restore(self, state: dict[str, Any]) -> None:
        with self._lock:
            self.setpoint_c = float(state["setpoint_c"])
            self.over_temp_c = float(state["over_temp_c"])
            self.flame_lit = bool(state["flame_lit"])
            self._t = float(state["t"])
            self._temp_c = float(state["temp_c"])
            self._high_fire = bool(state["high_fire"])
            self._turbulence = float(state["turbulence"])
            self._wander = float(state["wander"])
            self._cj_walk = float(state["cj_walk"])
            self._steps.setstate(_rng_from_state(state["steps"]))
            self._reads.setstate(_rng_from_state(state["reads"]))


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss_next = rng.getstate()
    return [version, list(internal), gauss_next]


def _rng_from_state(state: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss_next = state
    return (version, tuple(internal), gauss_next)
