"""Thermocouple one-shot with deadline, faults and debounce; flame median and scale.

The thermocouple logic runs against a small fake driver here; test_firmware_max31856.py
drives the firmware's own MAX31856 driver against the register-level emulation."""

import pytest

from sensor_node.flame import FlameSensor, median_in_place
from sensor_node.thermocouple import (
    TIMEOUT_BIT,
    FaultDebouncer,
    Thermocouple,
    conversion_ms,
)
from sensor_node.timing import Uptime
from sensor_protocol.wire import fault_names
from tests.unit.firmware.fakes import FakeAdc, FakeClock, FakeMax31856


def rig(conversion=250, averaging=4, mains=60):
    clock = FakeClock()
    drivers = []

    def make_driver():
        drivers.append(FakeMax31856(clock, conversion))
        return drivers[-1]

    tc = Thermocouple(make_driver, averaging, mains, Uptime(clock.ticks))
    return clock, tc, drivers


def convert(clock, tc, step_ms=20):
    tc.start()
    while True:
        result = tc.poll()
        if result is not None:
            return result
        clock.advance(step_ms)


def test_conversion_times_follow_the_datasheet():
    assert conversion_ms(1, 60) == 155
    assert conversion_ms(1, 50) == 185
    assert conversion_ms(16, 60) == 655
    assert conversion_ms(16, 50) == 785


def test_the_deadline_follows_the_settings():
    _, tc, _ = rig(averaging=8, mains=50)

    assert tc.deadline_ms == conversion_ms(8, 50) * 3 // 2 + 100


def test_a_clean_conversion_does_not_block():
    clock, tc, drivers = rig(conversion=250)
    tc.start()

    assert tc.poll() is None
    assert tc.converting
    clock.advance(250)
    assert tc.poll() == (1100.0, 25.0, 0, 250)
    assert not tc.converting
    assert drivers[0].clears == 0


def test_a_missed_deadline_is_a_timeout_fault_and_the_chip_is_set_up_again():
    clock, tc, drivers = rig()
    drivers[0].stuck = True
    drivers[0].faults = 0x02

    temp, cj, faults, read_ms = convert(clock, tc)

    assert (temp, cj) == (None, None)
    assert faults == TIMEOUT_BIT | 0x02
    assert tc.deadline_ms <= read_ms < tc.deadline_ms + 20
    assert len(drivers) == 2, "a timed-out chip is configured from scratch"
    assert drivers[0].clears == 1


def test_a_finished_conversion_polled_late_is_not_a_timeout():
    clock, tc, _ = rig()
    tc.start()
    clock.advance(5000)  # a loop iteration that blocked on a slow broker

    assert tc.poll()[2] == 0


@pytest.mark.parametrize(
    ("fault", "bit", "invalid"),
    [
        ("open_tc", 0x01, True),
        ("voltage", 0x02, True),
        ("tc_low", 0x04, False),
        ("tc_high", 0x08, False),
        ("cj_low", 0x10, False),
        ("cj_high", 0x20, False),
        ("tc_range", 0x40, True),
        ("cj_range", 0x80, True),
    ],
)
def test_each_fault_is_flagged_and_cleared(fault, bit, invalid):
    clock, tc, drivers = rig()
    drivers[0].faults = bit

    temp, cj, faults, _ = convert(clock, tc)

    assert faults == bit
    assert fault_names(faults) == (fault,)
    assert (temp is None) == invalid
    assert cj == 25.0
    assert drivers[0].clears == 1


def test_values_outside_the_contract_are_withheld():
    clock, tc, drivers = rig()
    drivers[0].temperature = 2047.0
    drivers[0].cold_junction = 130.0

    temp, cj, faults, _ = convert(clock, tc)

    assert (temp, cj, faults) == (None, None, 0)


def test_a_fault_is_raised_after_n_consecutive_readings():
    debounce = FaultDebouncer(3)

    assert [debounce.update(0x01) for _ in range(3)] == [0, 0, 0x01]
    assert debounce.flags == 0x01


def test_a_single_glitch_never_raises_a_flag():
    debounce = FaultDebouncer(3)
    for raw in (0x01, 0, 0x01, 0x01, 0, 0x01, 0):
        debounce.update(raw)

    assert debounce.flags == 0


def test_a_flag_clears_after_n_clean_readings():
    debounce = FaultDebouncer(2)
    for _ in range(2):
        debounce.update(0x02)

    assert debounce.update(0) == 0
    assert debounce.flags == 0x02
    assert debounce.update(0) == 0x02
    assert debounce.flags == 0


def test_bits_are_debounced_independently():
    debounce = FaultDebouncer(2)
    debounce.update(0x01)
    debounce.update(0x01 | 0x100)

    assert debounce.flags == 0x01
    assert debounce.update(0x100) == 0x100
    assert debounce.flags == 0x101


def test_a_debounce_of_one_follows_every_reading():
    debounce = FaultDebouncer(1)

    assert debounce.update(0x40) == 0x40
    assert debounce.update(0) == 0x40
    assert debounce.flags == 0


def test_median_of_odd_and_even_counts():
    assert median_in_place([5, 1, 9]) == 5
    assert median_in_place([4, 1, 3, 2]) == 2.5
    assert median_in_place([7]) == 7


def test_the_median_ignores_spikes():
    adc = FakeAdc([30000, 30010, 65535, 29990, 0, 30005, 30000])
    flame = FlameSensor(adc, 3.3 / 65535, 1.0, 0.0, 7)

    assert flame.read_volts() == pytest.approx(30000 * 3.3 / 65535)


def test_scale_divider_and_offset():
    flame = FlameSensor(FakeAdc([20000]), 3.3 / 65535, 4.0, 0.1, 15)

    assert flame.read_volts() == pytest.approx(20000 * 3.3 / 65535 * 4.0 + 0.1)


def test_flame_voltage_is_never_negative_and_never_out_of_range():
    assert FlameSensor(FakeAdc([100]), 3.3 / 65535, 1.0, -0.5, 3).read_volts() == 0.0
    assert FlameSensor(FakeAdc([65535]), 3.3 / 65535, 10.0, 0.0, 3).read_volts() is None


def test_the_flame_read_takes_oversample_reads():
    reads = []

    def value():
        reads.append(1)
        return 1000

    FlameSensor(FakeAdc(value), 3.3 / 65535, 1.0, 0.0, 15).read_volts()

    assert len(reads) == 15
