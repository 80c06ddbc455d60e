"""The firmware's MAX31856 driver and its thermocouple logic against the register-level
MAX31856 emulation of the virtual board, on a virtual clock.

The emulation is written from the datasheet and so is the driver; the exact codes below are
the datasheet's data formats (LTCB: 19 bits at 0.0078125 C left-justified in 24; CJT: 14
bits at 0.015625 C left-justified in 16), loaded into the chip's registers directly."""

import pytest

from sensor_bridge.virtual import max31856 as regs
from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.digital import build_digitalio
from sensor_bridge.virtual.max31856 import Max31856 as Chip
from sensor_bridge.virtual.pins import Pin, PinClaims
from sensor_bridge.virtual.spi import build_busio
from sensor_bridge.virtual.wiring import Wiring
from sensor_node.max31856 import Max31856
from sensor_node.thermocouple import TIMEOUT_BIT, FaultDebouncer, Thermocouple
from sensor_node.timing import Uptime
from sensor_protocol.wire import FAULT_BITS
from tests.unit.firmware.fakes import FakeClock


class Rig:
    def __init__(self, hot_c=1100.0, cold_c=25.0, averaging=4, mains_hz=60, tc_type="K"):
        self.clock = FakeClock()
        self.hot_c = hot_c
        self.cold_c = cold_c
        virtual = VirtualClock(real_monotonic=self.clock.seconds)
        self.chip = Chip(virtual, lambda _t: (self.hot_c, self.cold_c), probe_type="K")
        wiring = Wiring()
        claims = PinClaims()
        sck, mosi, miso, cs = Pin("GP18"), Pin("GP19"), Pin("GP16"), Pin("GP17")
        wiring.spi_devices[sck] = [self.chip]
        wiring.on_output(cs, self.chip.chip_select)
        spi = build_busio(wiring, claims).SPI(sck, MOSI=mosi, MISO=miso)
        chip_select = build_digitalio(wiring, claims).DigitalInOut(cs)
        self.drivers = 0

        def make_driver():
            self.drivers += 1
            self.driver = Max31856(spi, chip_select, tc_type, averaging, mains_hz)
            return self.driver

        self.tc = Thermocouple(make_driver, averaging, mains_hz, Uptime(self.clock.ticks))

    def read(self, step_ms=20):
        self.tc.start()
        while True:
            result = self.tc.poll()
            if result is not None:
                return result
            self.clock.advance(step_ms)

    def load(self, **registers):
        """Set chip registers by name (``LTCBH=0x64``), as a finished conversion left them."""
        image = bytearray(self.chip.registers())
        for name, value in registers.items():
            image[getattr(regs, name)] = value
        self.chip.restore(bytes(image), self.chip.injected)


@pytest.mark.parametrize(
    ("tc_type", "averaging", "mains_hz", "cr0", "cr1"),
    [
        ("K", 1, 60, 0x10, 0x03),
        ("B", 2, 50, 0x11, 0x10),
        ("J", 4, 60, 0x10, 0x22),
        ("N", 8, 50, 0x11, 0x34),
        ("T", 16, 60, 0x10, 0x47),
        ("E", 1, 60, 0x10, 0x01),
        ("R", 1, 60, 0x10, 0x05),
        ("S", 1, 60, 0x10, 0x06),
    ],
)
def test_a_new_driver_configures_the_chip(tc_type, averaging, mains_hz, cr0, cr1):
    rig = Rig(averaging=averaging, mains_hz=mains_hz, tc_type=tc_type)

    registers = rig.chip.registers()
    # CR0: open-circuit detection (OCFAULT 01), cold-junction sensor on, comparator mode.
    assert registers[regs.CR0] == cr0
    assert registers[regs.CR1] == cr1
    assert registers[regs.MASK] == 0x00, "no fault masked (power-on FFh masks them all)"


@pytest.mark.parametrize(
    ("ltcb", "celsius"),
    [
        ((0x64, 0x00, 0x00), 1600.0),
        ((0x19, 0x00, 0x00), 400.0),
        ((0x00, 0x00, 0x20), 0.0078125),
        ((0x00, 0x00, 0x00), 0.0),
        ((0xFF, 0xFF, 0xE0), -0.0078125),
        ((0xF0, 0x60, 0x00), -250.0),
    ],
)
def test_the_thermocouple_code_is_read_as_the_datasheet_writes_it(ltcb, celsius):
    rig = Rig()
    rig.load(LTCBH=ltcb[0], LTCBM=ltcb[1], LTCBL=ltcb[2])

    assert rig.driver.read()[0] == celsius


@pytest.mark.parametrize(
    ("cjt", "celsius"),
    [
        ((0x7F, 0xFC), 127.984375),
        ((0x19, 0x00), 25.0),
        ((0x00, 0x04), 0.015625),
        ((0xFF, 0xFC), -0.015625),
        ((0xC9, 0x00), -55.0),
    ],
)
def test_the_cold_junction_code_is_read_as_the_datasheet_writes_it(cjt, celsius):
    rig = Rig()
    rig.load(CJTH=cjt[0], CJTL=cjt[1])

    assert rig.driver.read()[1] == celsius


@pytest.mark.parametrize(("name", "bit"), FAULT_BITS[:8])
def test_each_chip_fault_arrives_as_the_contracts_fault_bit(name, bit):
    rig = Rig()
    rig.chip.set_fault(name, True)

    faults = rig.read()[2]

    # Over/under-voltage also holds the conversion back past its deadline.
    assert faults == bit | (TIMEOUT_BIT if name == "voltage" else 0)


def test_a_one_shot_runs_until_the_chip_clears_1shot():
    rig = Rig(averaging=1)
    driver = rig.driver

    driver.start()
    assert driver.converting
    rig.clock.advance(150)
    assert driver.converting
    rig.clock.advance(10)
    assert not driver.converting
    assert rig.chip.conversions == 1


def test_clearing_faults_starts_no_conversion_and_keeps_the_configuration():
    rig = Rig(averaging=1, mains_hz=50)
    driver = rig.driver

    driver.clear_faults()

    assert not driver.converting
    assert rig.chip.status()["pending"] is False
    assert rig.chip.registers()[regs.CR0] == 0x11


def test_a_reading_is_temperature_and_cold_junction_without_faults():
    rig = Rig(hot_c=1100.0, cold_c=25.0)

    temp, cj, faults, read_ms = rig.read()

    assert faults == 0
    assert temp == pytest.approx(1100.0, abs=0.5)
    assert cj == pytest.approx(25.0, abs=0.2)
    # 4 averaged samples at 60 Hz: 155 + 3 x 33.3 ms, polled every 20 ms.
    assert 255 <= read_ms < 255 + 20


def test_settings_reach_the_chip():
    rig = Rig(averaging=16, mains_hz=50)

    status = rig.chip.status()
    cr0 = int(str(status["cr0"]))
    cr1 = int(str(status["cr1"]))
    assert cr0 & 0x01, "50 Hz filter"
    assert cr1 & 0x70 == 0x40, "16 samples averaged"
    assert cr1 & 0x0F == 0x03, "type K"
    assert 785 <= rig.read()[3] < 805


def test_an_open_thermocouple_is_flagged_and_withholds_the_temperature():
    rig = Rig()
    rig.chip.set_fault("open_tc", True)

    temp, cj, faults, _ = rig.read()

    assert faults & 0x01
    assert temp is None
    assert cj == pytest.approx(25.0, abs=0.2)

    rig.chip.set_fault("open_tc", False)
    temp, _, faults, _ = rig.read()
    assert faults == 0
    assert temp == pytest.approx(1100.0, abs=0.5)


@pytest.mark.parametrize("fault", ["tc_range", "cj_range"])
def test_range_faults_withhold_the_temperature(fault):
    rig = Rig()
    rig.chip.set_fault(fault, True)

    temp, _, faults, _ = rig.read()

    assert faults & {"tc_range": 0x40, "cj_range": 0x80}[fault]
    assert temp is None


def test_a_high_threshold_fault_keeps_the_temperature():
    rig = Rig()
    rig.chip.set_fault("tc_high", True)

    temp, _, faults, _ = rig.read()

    assert faults == 0x08
    assert temp == pytest.approx(1100.0, abs=0.5)


def test_over_voltage_suspends_conversions_and_the_node_recovers():
    rig = Rig()
    rig.chip.set_fault("voltage", True)

    temp, _, faults, read_ms = rig.read()

    assert faults & TIMEOUT_BIT and faults & 0x02
    assert temp is None
    assert read_ms >= rig.tc.deadline_ms
    assert rig.drivers == 2, "the chip was configured again after the timeout"

    rig.chip.set_fault("voltage", False)
    temp, _, faults, _ = rig.read()
    assert faults == 0
    assert temp == pytest.approx(1100.0, abs=0.5)


def test_a_conversion_that_never_ends_is_a_timeout_not_a_hang():
    rig = Rig()
    rig.chip.set_fault("no_conversion", True)

    for _ in range(3):
        temp, cj, faults, read_ms = rig.read()
        assert faults & TIMEOUT_BIT
        assert (temp, cj) == (None, None)
        assert read_ms < rig.tc.deadline_ms + 20

    rig.chip.set_fault("no_conversion", False)
    assert rig.read()[2] == 0


def test_debounced_flags_follow_a_fault_that_lasts():
    rig = Rig()
    debounce = FaultDebouncer(3)
    rig.chip.set_fault("open_tc", True)
    flags = []
    for _ in range(4):
        debounce.update(rig.read()[2])
        flags.append(debounce.flags)
    rig.chip.set_fault("open_tc", False)
    for _ in range(3):
        debounce.update(rig.read()[2])
        flags.append(debounce.flags)

    assert flags == [0, 0, 1, 1, 1, 1, 0]
