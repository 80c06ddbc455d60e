"""The emulated MAX31856 at its registers, read and written over the virtual SPI bus as the
datasheet describes them (no driver in between: the firmware's own driver is tested against
this emulation in tests/unit/firmware/test_firmware_max31856.py)."""

import pytest

from sensor_bridge.virtual import max31856 as regs
from tests.unit.virtual.rig import ChipRig

TC_TYPES = "BEJKNRST"
"""CR1 TC TYPE codes 0-7."""
AVGSEL = {1: 0, 2: 1, 4: 2, 8: 3, 16: 4}
"""CR1 AVGSEL codes by samples averaged."""
OPEN_CIRCUIT_DETECTION = 0x10
"""CR0 OCFAULT = 01."""


@pytest.fixture
def rig() -> ChipRig:
    return ChipRig()


def configure(
    rig: ChipRig, tc_type: str = "K", samples: int = 1, hz: int = 60, cr0: int = 0
) -> None:
    """CR0, CR1 and MASK in one write: open-circuit detection, no fault masked."""
    fifty = regs.CR0_50HZ if hz == 50 else 0
    cr1 = AVGSEL[samples] << 4 | TC_TYPES.index(tc_type)
    rig.write(regs.CR0, OPEN_CIRCUIT_DETECTION | fifty | cr0, cr1, 0x00)


def register(rig: ChipRig, address: int) -> int:
    return rig.read(address)[0]


def one_shot(rig: ChipRig) -> None:
    rig.write(regs.CR0, register(rig, regs.CR0) | regs.CR0_1SHOT)


def pending_for(rig: ChipRig, seconds: float) -> bool:
    rig.time.advance(seconds)
    return bool(register(rig, regs.CR0) & regs.CR0_1SHOT)


def temperature(rig: ChipRig) -> float:
    """LTCB: 19 bits, two's complement, 0.0078125 C an LSB, left-justified in 24."""
    code = int.from_bytes(rig.read(regs.LTCBH, 3), "big", signed=True) >> 5
    return code * 0.0078125


def cold_junction(rig: ChipRig) -> float:
    """CJTH/CJTL: 14 bits, two's complement, 0.015625 C an LSB, left-justified in 16."""
    code = int.from_bytes(rig.read(regs.CJTH, 2), "big", signed=True) >> 2
    return code * 0.015625


def faults(rig: ChipRig) -> set[str]:
    status = register(rig, regs.SR)
    return {name for name, bit in regs.FAULT_BITS.items() if status & bit}


def test_power_on_values_and_a_configuration_write(rig: ChipRig) -> None:
    assert list(rig.read(regs.CR0, 16)) == [
        0x00, 0x03, 0xFF, 0x7F, 0xC0, 0x7F, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0x00,
    ]  # fmt: skip

    configure(rig, "J")

    assert list(rig.read(regs.CR0, 3)) == [0x10, 0x02, 0x00]
    assert faults(rig) == set()


@pytest.mark.parametrize(
    ("hz", "samples", "max_s"),
    [(60, 1, 0.155), (50, 1, 0.185), (60, 4, 0.155 + 0.1), (50, 16, 0.185 + 0.6)],
)
def test_one_shot_takes_the_datasheet_maximum(
    rig: ChipRig, hz: int, samples: int, max_s: float
) -> None:
    configure(rig, samples=samples, hz=hz)
    one_shot(rig)
    assert pending_for(rig, 0.0)
    assert pending_for(rig, max_s - 0.002)
    assert not pending_for(rig, 0.004)


def test_temperatures_are_encoded_like_the_chip(rig: ChipRig) -> None:
    configure(rig)
    rig.junctions.hot_c, rig.junctions.cold_c = 1123.25, 24.5
    rig.convert()
    assert temperature(rig) == pytest.approx(1123.25, abs=0.15)
    assert cold_junction(rig) == pytest.approx(24.5, abs=0.1)
    assert rig.read(regs.LTCBH, 3)[2] & 0x1F == 0, "LTCB is 19 bits left-justified"
    assert rig.read(regs.CJTH, 2)[1] & 0x03 == 0, "CJ is 14 bits left-justified"

    rig.junctions.hot_c = -150.0
    rig.convert()
    assert temperature(rig) == pytest.approx(-150.0, abs=0.15)


@pytest.mark.parametrize(
    ("name", "inside", "outside"),
    [("K", 1300.0, 1400.0), ("J", 1150.0, 1250.0), ("T", 350.0, 450.0), ("B", 1000.0, 200.0)],
)
def test_each_type_has_its_range(name: str, inside: float, outside: float) -> None:
    rig = ChipRig(probe_type=name)
    configure(rig, name)
    rig.junctions.hot_c = inside
    rig.convert()
    assert faults(rig) == set()
    assert temperature(rig) == pytest.approx(inside, abs=0.2)
    rig.junctions.hot_c = outside
    rig.convert()
    assert "tc_range" in faults(rig)


def test_a_wrong_type_setting_reads_wrong_not_faulted(rig: ChipRig) -> None:
    configure(rig, "J")  # the probe is a K
    rig.junctions.hot_c, rig.junctions.cold_c = 1000.0, 25.0
    rig.convert()
    assert faults(rig) == set()
    assert temperature(rig) == pytest.approx(25 + 975 * 41.276 / 57.953, abs=0.5)


def test_open_thermocouple_is_detected_only_with_ocfault(rig: ChipRig) -> None:
    configure(rig)
    rig.chip.set_fault("open_tc", True)
    rig.convert()
    assert faults(rig) == {"open_tc"}
    assert temperature(rig) > 2000, "an open input reads full scale"

    rig.write(regs.CR0, 0x00)  # open-circuit detection off
    rig.convert()
    assert faults(rig) == {"tc_range"}

    rig.chip.set_fault("open_tc", False)
    rig.convert()
    assert faults(rig) == set()
    assert temperature(rig) == pytest.approx(1100.0, abs=0.2)


@pytest.mark.parametrize("name", regs.CONDITION_FAULTS)
def test_injected_faults_follow_the_condition_in_comparator_mode(rig: ChipRig, name: str) -> None:
    configure(rig)
    rig.chip.set_fault(name, True)
    rig.convert()
    assert faults(rig) == {name}
    rig.chip.set_fault(name, False)
    assert name in faults(rig), "comparator bits change with the next conversion"
    rig.convert()
    assert faults(rig) == set()


def test_interrupt_mode_latches_until_faultclr(rig: ChipRig) -> None:
    configure(rig, cr0=regs.CR0_FAULT)
    rig.chip.set_fault("cj_high", True)
    rig.convert()
    rig.chip.set_fault("cj_high", False)
    rig.convert()
    assert faults(rig) == {"cj_high"}, "latched"
    rig.write(regs.CR0, register(rig, regs.CR0) | regs.CR0_FAULTCLR)
    assert faults(rig) == set()
    assert register(rig, regs.CR0) & regs.CR0_FAULTCLR == 0, "FAULTCLR clears itself"


def test_thresholds_trip_with_two_degrees_of_hysteresis(rig: ChipRig) -> None:
    configure(rig)
    # CJHF 20 C, CJLF 0 C (1 C an LSB); LTHFT 1000 C, LTLFT 0 C (0.0625 C an LSB).
    rig.write(regs.CJHF, 20, 0, 0x3E, 0x80, 0x00, 0x00)
    rig.convert()
    assert faults(rig) == {"tc_high", "cj_high"}
    rig.junctions.hot_c, rig.junctions.cold_c = 999.0, 19.5
    rig.convert()
    assert faults(rig) == {"tc_high", "cj_high"}
    rig.junctions.hot_c, rig.junctions.cold_c = 997.0, 17.5
    rig.convert()
    assert faults(rig) == set()
    rig.junctions.hot_c, rig.junctions.cold_c = -10.0, -1.0
    rig.convert()
    assert faults(rig) == {"tc_low", "cj_low"}


def test_cold_junction_out_of_range(rig: ChipRig) -> None:
    configure(rig)
    rig.junctions.cold_c = 130.0
    rig.convert()
    assert "cj_range" in faults(rig)


def test_mask_keeps_a_fault_out_of_the_status_register(rig: ChipRig) -> None:
    configure(rig)
    rig.write(regs.MASK, 0x01)
    rig.chip.set_fault("open_tc", True)
    rig.convert()
    assert faults(rig) == set()
    assert not rig.chip.fault_pin_asserted


def test_ovuv_suspends_until_clear_and_faultclr_in_interrupt_mode(rig: ChipRig) -> None:
    configure(rig, cr0=regs.CR0_FAULT)
    rig.chip.set_fault("voltage", True)
    assert faults(rig) == {"voltage"}
    assert rig.chip.fault_pin_asserted
    one_shot(rig)
    assert pending_for(rig, 5.0), "no conversion while over/under voltage"

    rig.chip.set_fault("voltage", False)
    assert pending_for(rig, 5.0), "still suspended: the fault is latched"
    assert faults(rig) == {"voltage"}

    rig.write(regs.CR0, register(rig, regs.CR0) | regs.CR0_FAULTCLR)
    assert faults(rig) == set()
    assert pending_for(rig, 0.150), "the conversion restarts after the clear"
    assert not pending_for(rig, 0.010)
    assert temperature(rig) == pytest.approx(1100.0, abs=0.2)


def test_ovuv_follows_the_condition_in_comparator_mode(rig: ChipRig) -> None:
    configure(rig)
    rig.chip.set_fault("voltage", True)
    one_shot(rig)
    assert pending_for(rig, 2.0)
    assert faults(rig) == {"voltage"}
    rig.chip.set_fault("voltage", False)
    assert faults(rig) == set()
    assert pending_for(rig, 0.150)
    assert not pending_for(rig, 0.010)


def test_ovuv_latching_re_asserts_while_the_condition_lasts(rig: ChipRig) -> None:
    configure(rig, cr0=regs.CR0_FAULT)
    rig.chip.set_fault("voltage", True)
    rig.write(regs.CR0, register(rig, regs.CR0) | regs.CR0_FAULTCLR)
    assert "voltage" in faults(rig)


def test_no_conversion_never_clears_1shot_until_removed(rig: ChipRig) -> None:
    configure(rig)
    rig.chip.set_fault("no_conversion", True)
    one_shot(rig)
    assert pending_for(rig, 60.0)
    assert faults(rig) == set()
    rig.chip.set_fault("no_conversion", False)
    assert pending_for(rig, 0.150)
    assert not pending_for(rig, 0.010)


def test_auto_conversion_mode_converts_every_100_ms(rig: ChipRig) -> None:
    configure(rig, cr0=regs.CR0_CMODE)
    before = rig.chip.conversions
    for _ in range(10):
        rig.time.advance(0.1)
        register(rig, regs.SR)
    assert rig.chip.conversions - before >= 9
    assert temperature(rig) == pytest.approx(1100.0, abs=0.2)


def test_cold_junction_can_be_written_when_the_sensor_is_off(rig: ChipRig) -> None:
    configure(rig)
    rig.write(regs.CJTH, 0x20)  # ignored: sensor on
    rig.write(regs.CR0, OPEN_CIRCUIT_DETECTION | regs.CR0_CJ)
    rig.write(regs.CJTH, 0x0A, 0x00)  # 10 C
    rig.convert()
    assert cold_junction(rig) == 10.0
    # Compensation uses the written value: the reading is off by the cold junction error.
    assert temperature(rig) == pytest.approx(1100.0 - 15.0, abs=0.2)


def test_offset_register_shifts_the_cold_junction(rig: ChipRig) -> None:
    configure(rig)
    rig.write(regs.CJTO, 0x10)  # +1 C
    rig.convert()
    assert cold_junction(rig) == pytest.approx(26.0, abs=0.1)


def test_multi_byte_reads_auto_increment_and_wrap(rig: ChipRig) -> None:
    configure(rig)
    assert list(rig.read(regs.SR, 3)) == [0x00, register(rig, regs.CR0), register(rig, regs.CR1)]


def test_wrong_spi_mode_reads_garbage(rig: ChipRig) -> None:
    configure(rig)
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
    configure(rig, "N", samples=8)
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
