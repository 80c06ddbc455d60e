"""The emulated MAX31856 under the real adafruit_max31856 driver."""

import adafruit_max31856
import pytest
from adafruit_max31856 import ThermocoupleType

from sensor_bridge.virtual import max31856 as regs
from tests.unit.virtual.rig import ChipRig

ALL_CLEAR = dict.fromkeys(
    ("cj_range", "tc_range", "cj_high", "cj_low", "tc_high", "tc_low", "voltage", "open_tc"),
    False,
)


@pytest.fixture
def rig() -> ChipRig:
    return ChipRig()


def read(driver: adafruit_max31856.MAX31856, address: int) -> int:
    return driver._read_register(address, 1)[0]


def pending_for(rig: ChipRig, driver: adafruit_max31856.MAX31856, seconds: float) -> bool:
    rig.time.advance(seconds)
    return driver.oneshot_pending


def test_driver_init_sets_mask_open_circuit_detection_and_type(rig: ChipRig) -> None:
    driver = rig.driver(ThermocoupleType.J)
    assert read(driver, regs.MASK) == 0x00
    assert read(driver, regs.CR0) == 0x10
    assert read(driver, regs.CR1) == 0x02
    assert driver.averaging == 1
    assert driver.noise_rejection == 60
    assert driver.temperature_thresholds == (-2048.0, 2047.9)
    assert driver.reference_temperature_thresholds == (-64.0, 127.0)
    assert driver.fault == ALL_CLEAR


@pytest.mark.parametrize(
    ("hz", "samples", "max_s"),
    [(60, 1, 0.155), (50, 1, 0.185), (60, 4, 0.155 + 0.1), (50, 16, 0.185 + 0.6)],
)
def test_one_shot_takes_the_datasheet_maximum(
    rig: ChipRig, hz: int, samples: int, max_s: float
) -> None:
    driver = rig.driver()
    driver.noise_rejection = hz
    driver.averaging = samples
    driver.initiate_one_shot_measurement()
    assert driver.oneshot_pending
    assert pending_for(rig, driver, max_s - 0.002)
    assert not pending_for(rig, driver, 0.004)
    assert read(driver, regs.CR0) & regs.CR0_1SHOT == 0


def test_temperatures_are_encoded_like_the_chip(rig: ChipRig) -> None:
    driver = rig.driver()
    rig.junctions.hot_c, rig.junctions.cold_c = 1123.25, 24.5
    rig.convert(driver)
    assert driver.unpack_temperature() == pytest.approx(1123.25, abs=0.15)
    assert driver.read_high_res_temp() == pytest.approx(driver.unpack_temperature())
    assert driver.unpack_reference_temperature() == pytest.approx(24.5, abs=0.1)
    raw = driver._read_register(regs.LTCBH, 3)
    assert raw[2] & 0x1F == 0, "LTCB is 19 bits left-justified"
    assert driver._read_register(regs.CJTH, 2)[1] & 0x03 == 0, "CJ is 14 bits left-justified"

    rig.junctions.hot_c = -150.0
    rig.convert(driver)
    assert driver.unpack_temperature() == pytest.approx(-150.0, abs=0.15)
    assert driver.read_high_res_temp() == pytest.approx(-150.0, abs=0.15)


@pytest.mark.parametrize(
    ("name", "inside", "outside"),
    [("K", 1300.0, 1400.0), ("J", 1150.0, 1250.0), ("T", 350.0, 450.0), ("B", 1000.0, 200.0)],
)
def test_each_type_has_its_range(name: str, inside: float, outside: float) -> None:
    rig = ChipRig(probe_type=name)
    driver = rig.driver(getattr(ThermocoupleType, name))
    rig.junctions.hot_c = inside
    rig.convert(driver)
    assert driver.fault == ALL_CLEAR
    assert driver.unpack_temperature() == pytest.approx(inside, abs=0.2)
    rig.junctions.hot_c = outside
    rig.convert(driver)
    assert driver.fault["tc_range"]


def test_a_wrong_type_setting_reads_wrong_not_faulted(rig: ChipRig) -> None:
    driver = rig.driver(ThermocoupleType.J)  # the probe is a K
    rig.junctions.hot_c, rig.junctions.cold_c = 1000.0, 25.0
    rig.convert(driver)
    assert driver.fault == ALL_CLEAR
    assert driver.unpack_temperature() == pytest.approx(25 + 975 * 41.276 / 57.953, abs=0.5)


def test_open_thermocouple_is_detected_only_with_ocfault(rig: ChipRig) -> None:
    driver = rig.driver()
    rig.chip.set_fault("open_tc", True)
    rig.convert(driver)
    assert driver.fault == {**ALL_CLEAR, "open_tc": True}
    assert driver.unpack_temperature() > 2000, "an open input reads full scale"

    driver._write_u8(regs.CR0, 0x00)  # open-circuit detection off
    rig.convert(driver)
    assert driver.fault == {**ALL_CLEAR, "tc_range": True}

    rig.chip.set_fault("open_tc", False)
    rig.convert(driver)
    assert driver.fault == ALL_CLEAR
    assert driver.unpack_temperature() == pytest.approx(1100.0, abs=0.2)


@pytest.mark.parametrize("name", regs.CONDITION_FAULTS)
def test_injected_faults_follow_the_condition_in_comparator_mode(rig: ChipRig, name: str) -> None:
    driver = rig.driver()
    rig.chip.set_fault(name, True)
    rig.convert(driver)
    assert driver.fault == {**ALL_CLEAR, name: True}
    rig.chip.set_fault(name, False)
    assert driver.fault[name], "comparator bits change with the next conversion"
    rig.convert(driver)
    assert driver.fault == ALL_CLEAR


def test_interrupt_mode_latches_until_faultclr(rig: ChipRig) -> None:
    driver = rig.driver()
    driver._write_u8(regs.CR0, 0x10 | regs.CR0_FAULT)
    rig.chip.set_fault("cj_high", True)
    rig.convert(driver)
    rig.chip.set_fault("cj_high", False)
    rig.convert(driver)
    assert driver.fault["cj_high"], "latched"
    driver._write_u8(regs.CR0, read(driver, regs.CR0) | regs.CR0_FAULTCLR)
    assert driver.fault == ALL_CLEAR
    assert read(driver, regs.CR0) & regs.CR0_FAULTCLR == 0, "FAULTCLR clears itself"


def test_thresholds_trip_with_two_degrees_of_hysteresis(rig: ChipRig) -> None:
    driver = rig.driver()
    driver.temperature_thresholds = (0.0, 1000.0)
    driver.reference_temperature_thresholds = (0.0, 20.0)
    rig.convert(driver)
    assert driver.fault == {**ALL_CLEAR, "tc_high": True, "cj_high": True}
    rig.junctions.hot_c, rig.junctions.cold_c = 999.0, 19.5
    rig.convert(driver)
    assert driver.fault == {**ALL_CLEAR, "tc_high": True, "cj_high": True}
    rig.junctions.hot_c, rig.junctions.cold_c = 997.0, 17.5
    rig.convert(driver)
    assert driver.fault == ALL_CLEAR
    rig.junctions.hot_c, rig.junctions.cold_c = -10.0, -1.0
    rig.convert(driver)
    assert driver.fault == {**ALL_CLEAR, "tc_low": True, "cj_low": True}


def test_cold_junction_out_of_range(rig: ChipRig) -> None:
    driver = rig.driver()
    rig.junctions.cold_c = 130.0
    rig.convert(driver)
    assert driver.fault["cj_range"]


def test_mask_keeps_a_fault_out_of_the_status_register(rig: ChipRig) -> None:
    driver = rig.driver()
    driver._write_u8(regs.MASK, 0x01)
    rig.chip.set_fault("open_tc", True)
    rig.convert(driver)
    assert driver.fault == ALL_CLEAR
    assert not rig.chip.fault_pin_asserted


def test_ovuv_suspends_until_clear_and_faultclr_in_interrupt_mode(rig: ChipRig) -> None:
    driver = rig.driver()
    driver._write_u8(regs.CR0, 0x10 | regs.CR0_FAULT)
    rig.chip.set_fault("voltage", True)
    assert driver.fault == {**ALL_CLEAR, "voltage": True}
    assert rig.chip.fault_pin_asserted
    driver.initiate_one_shot_measurement()
    assert pending_for(rig, driver, 5.0), "no conversion while over/under voltage"

    rig.chip.set_fault("voltage", False)
    assert pending_for(rig, driver, 5.0), "still suspended: the fault is latched"
    assert driver.fault["voltage"]

    driver._write_u8(regs.CR0, read(driver, regs.CR0) | regs.CR0_FAULTCLR)
    assert driver.fault == ALL_CLEAR
    assert pending_for(rig, driver, 0.150), "the conversion restarts after the clear"
    assert not pending_for(rig, driver, 0.010)
    assert driver.unpack_temperature() == pytest.approx(1100.0, abs=0.2)


def test_ovuv_follows_the_condition_in_comparator_mode(rig: ChipRig) -> None:
    driver = rig.driver()
    rig.chip.set_fault("voltage", True)
    driver.initiate_one_shot_measurement()
    assert pending_for(rig, driver, 2.0)
    assert driver.fault["voltage"]
    rig.chip.set_fault("voltage", False)
    assert driver.fault == ALL_CLEAR
    assert pending_for(rig, driver, 0.150)
    assert not pending_for(rig, driver, 0.010)


def test_ovuv_latching_re_asserts_while_the_condition_lasts(rig: ChipRig) -> None:
    driver = rig.driver()
    driver._write_u8(regs.CR0, 0x10 | regs.CR0_FAULT)
    rig.chip.set_fault("voltage", True)
    driver._write_u8(regs.CR0, read(driver, regs.CR0) | regs.CR0_FAULTCLR)
    assert driver.fault["voltage"]


def test_no_conversion_never_clears_1shot_until_removed(rig: ChipRig) -> None:
    driver = rig.driver()
    rig.chip.set_fault("no_conversion", True)
    driver.initiate_one_shot_measurement()
    assert pending_for(rig, driver, 60.0)
    assert driver.fault == ALL_CLEAR
    rig.chip.set_fault("no_conversion", False)
    assert pending_for(rig, driver, 0.150)
    assert not pending_for(rig, driver, 0.010)


def test_auto_conversion_mode_converts_every_100_ms(rig: ChipRig) -> None:
    driver = rig.driver()
    driver.start_autoconverting()
    before = rig.chip.conversions
    for _ in range(10):
        rig.time.advance(0.1)
        read(driver, regs.SR)
    assert rig.chip.conversions - before >= 9
    assert driver.unpack_temperature() == pytest.approx(1100.0, abs=0.2)


def test_cold_junction_can_be_written_when_the_sensor_is_off(rig: ChipRig) -> None:
    driver = rig.driver()
    driver._write_u8(regs.CJTH, 0x20)  # ignored: sensor on
    driver._write_u8(regs.CR0, 0x10 | regs.CR0_CJ)
    driver._write_u8(regs.CJTH, 0x0A)  # 10 C
    driver._write_u8(regs.CJTL, 0x00)
    rig.convert(driver)
    assert driver.unpack_reference_temperature() == 10.0
    # Compensation uses the written value: the reading is off by the cold junction error.
    assert driver.unpack_temperature() == pytest.approx(1100.0 - 15.0, abs=0.2)


def test_offset_register_shifts_the_cold_junction(rig: ChipRig) -> None:
    driver = rig.driver()
    driver._write_u8(regs.CJTO, 0x10)  # +1 C
    rig.convert(driver)
    assert driver.unpack_reference_temperature() == pytest.approx(26.0, abs=0.1)


def test_multi_byte_reads_auto_increment_and_wrap(rig: ChipRig) -> None:
    driver = rig.driver()
    block = driver._read_sequential_registers(regs.SR, 3)
    assert list(block) == [0x00, read(driver, regs.CR0), read(driver, regs.CR1)]


def test_wrong_spi_mode_reads_garbage(rig: ChipRig) -> None:
    rig.driver()
    buf = bytearray(1)
    assert rig.spi.try_lock()
    rig.spi.configure(baudrate=500_000, polarity=0, phase=0)  # the chip wants mode 1 or 3
    rig.cs.value = False
    rig.spi.write(bytes([regs.CR1]))
    rig.spi.readinto(buf)
    rig.cs.value = True
    rig.spi.unlock()
    assert buf[0] != 0x03


def test_registers_survive_an_mcu_reset(rig: ChipRig) -> None:
    driver = rig.driver(ThermocoupleType.N)
    driver.averaging = 8
    rig.chip.set_fault("open_tc", True)
    other = ChipRig()
    other.chip.restore(rig.chip.registers(), rig.chip.injected)
    assert other.chip.registers()[regs.CR1] == 0x34
    assert other.chip.injected == ["open_tc"]


def test_bus_rules_are_circuitpythons(rig: ChipRig) -> None:
    with pytest.raises(ValueError, match="GP17 in use"):
        rig.digitalio.DigitalInOut(rig.pins["GP17"])
    with pytest.raises(RuntimeError, match="requires lock"):
        rig.spi.configure(baudrate=1_000_000)
    rig.spi.deinit()
    with pytest.raises(ValueError, match="deinitialized"):
        rig.spi.try_lock()
