"""The furnace model's statistics: what the thermocouple and the flame rod see."""

import statistics

import pytest

from sensor_bridge.virtual.furnace import FurnaceModel


def samples(model: FurnaceModel, start: float, seconds: float, every: float = 1.0) -> list:
    return [model.sample(start + i * every) for i in range(int(seconds / every))]


def test_lit_flame_reads_3_to_4_volts_with_noise() -> None:
    model = FurnaceModel(seed=3)
    flame = [s.flame_v for s in samples(model, 0.0, 600.0)]
    assert 3.0 < statistics.mean(flame) < 4.0
    assert 0.04 < statistics.stdev(flame) < 0.4


def test_out_flame_reads_near_zero() -> None:
    model = FurnaceModel(seed=3)
    model.set(flame="out")
    flame = [s.flame_v for s in samples(model, 0.0, 300.0)]
    assert statistics.mean(flame) == pytest.approx(0.05, abs=0.02)
    assert statistics.stdev(flame) < 0.03
    assert min(flame) >= 0.0


def test_temperature_climbs_to_the_set_point_and_cycles_around_it() -> None:
    model = FurnaceModel(seed=5)
    start = model.sample(0.0).hot_c
    assert start == pytest.approx(1000.0, abs=5.0)
    steady = [s.hot_c for s in samples(model, 3600.0, 1800.0)]
    assert statistics.mean(steady) == pytest.approx(1100.0, abs=5.0)
    assert 1.0 < statistics.stdev(steady) < 8.0, "burner cycling plus turbulence"
    assert max(steady) - min(steady) < 30.0


def test_flame_out_cools_and_over_temperature_overshoots() -> None:
    model = FurnaceModel(seed=5, setpoint_c=1100.0)
    model.set(temp_c=1100.0)
    model.set(flame="out")
    assert model.sample(600.0).hot_c < 1000.0
    model.set(flame="lit", temp_c=1100.0, over_temp_c=150.0)
    assert model.sample(600.0 + 3600.0).hot_c == pytest.approx(1250.0, abs=15.0)


def test_cold_junction_is_room_temperature_with_drift() -> None:
    model = FurnaceModel(seed=2)
    cold = [s.cold_junction_c for s in samples(model, 0.0, 3600.0, every=10.0)]
    assert 22.0 < statistics.mean(cold) < 30.0
    assert 0.2 < statistics.stdev(cold) < 3.0


def test_same_seed_same_furnace_whatever_the_sampling() -> None:
    dense, sparse = FurnaceModel(seed=9), FurnaceModel(seed=9)
    for t in range(300):
        dense.sample(float(t))
    assert dense.sample(300.0).hot_c == sparse.sample(300.0).hot_c
    assert FurnaceModel(seed=10).sample(300.0).hot_c != sparse.sample(300.0).hot_c


def test_state_carries_across_a_reset() -> None:
    model = FurnaceModel(seed=4)
    model.sample(120.0)
    copy = FurnaceModel(seed=99)
    copy.restore(model.state())
    assert copy.sample(500.0).hot_c == model.sample(500.0).hot_c
