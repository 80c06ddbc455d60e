"""Firmware logic checks that run unchanged on MicroPython (test_firmware_micropython.py
runs them in the WebAssembly build) and on CPython: the parts of sensor_node that touch
what MicroPython does differently (array, int and str methods, exceptions, annotations).

``run()`` prints one line per failed check and ``N passed, M failed``; returns M.
"""

import sys

import sensor_node.app
import sensor_node.link
import sensor_node.node
from sensor_node import persist
from sensor_node.backoff import Backoff
from sensor_node.console import format_line
from sensor_node.flame import FlameSensor
from sensor_node.health import Health
from sensor_node.max31856 import Max31856
from sensor_node.recovery import RESET, RESTART_RADIO, RecoveryLadder
from sensor_node.ring_buffer import BYTES_PER_READING, ReadingBuffer
from sensor_node.settings import SettingsError, example_text, load_settings
from sensor_node.status_led import COLOURS, ONLINE, StatusLed
from sensor_node.thermocouple import FaultDebouncer, Thermocouple
from sensor_node.timing import Deadline, Uptime
from sensor_protocol.fields import READING_FIELDS

ENV = {
    "CIRCUITPY_WIFI_SSID": "studio-wifi",
    "MQTT_BROKER": "192.168.1.10",
    "STUDIO_ID": "studio1",
    "DEVICE_ID": "furnace1",
    "SAMPLE_PERIOD_S": "0.5",
    "MQTT_PORT": 1884,
}


class Board:
    DEFAULT_BUFFER_CAPACITY = 720
    WATCHDOG_MAX_S = 8.0
    WATCHDOG_MIN_S = 8.0


class Ticks:
    def __init__(self):
        self.ms = (1 << 29) - 1000

    def __call__(self):
        return self.ms & ((1 << 29) - 1)


class Driver:
    def __init__(self):
        self.converting = True
        self.clears = 0

    def start(self):
        pass

    def read(self):
        return 1100.0, 25.0, 0x01

    def clear_faults(self):
        self.clears += 1


class Bus:
    """A MAX31856's sixteen registers behind ``busio.SPI``'s calls, one transaction being an
    address byte (bit 7 set for a write), then the data."""

    def __init__(self):
        self.registers = bytearray(16)
        self.modes = []
        self._address = 0

    def try_lock(self):
        return True

    def unlock(self):
        pass

    def configure(self, baudrate=100000, polarity=0, phase=0, bits=8):
        self.modes.append((polarity, phase))

    def write(self, buffer, start=0, end=None):
        data = bytes(buffer[start:end])
        self._address = data[0] & 0x7F
        if data[0] & 0x80:
            self.registers[self._address : self._address + len(data) - 1] = data[1:]

    def readinto(self, buffer, start=0, end=None, write_value=0):
        for index in range(start, len(buffer) if end is None else end):
            buffer[index] = self.registers[self._address % 16]
            self._address += 1


class ChipSelect:
    value = True

    def switch_to_output(self, value=False):
        self.value = value


class Adc:
    value = 30000


def check_console():
    line = format_line(65123, "ERROR", "settings", ("key", "K", "problem", 'a "b"', "x", None))
    assert line == '65.123 ERROR settings key=K problem="a \\"b\\"" x=-', line


def check_settings():
    settings = load_settings(ENV.get, Board)
    assert settings["SAMPLE_PERIOD_S"] == 0.5
    assert settings["MQTT_PORT"] == 1884
    assert settings["BUFFER_CAPACITY"] == 720
    assert settings["PRODUCTION"] is True
    bad = dict(ENV)
    bad["DEVICE_ID"] = "Bad"
    try:
        load_settings(bad.get, Board)
    except SettingsError as exc:
        assert exc.key == "DEVICE_ID", exc.key
    else:
        raise AssertionError("a bad id passed")
    assert "\nSAMPLE_PERIOD_S = 5\n" in example_text()


def check_ring_buffer():
    measured = [field for field in READING_FIELDS if field.decimals is not None]
    buffer = ReadingBuffer(3)
    assert len(buffer._data) == 3 * BYTES_PER_READING
    values = tuple(None if index == 0 else field.hi for index, field in enumerate(measured))
    for seq in range(5):
        up_ms = 2**32 - 2 + seq  # across the 32-bit boundary
        buffer.append(up_ms, 1764000000000 + up_ms, values, 0x100)
    assert buffer.drops == 2
    row = next(buffer.oldest(1, None))
    assert row[:3] == (2, 2**32, 1764000000000 + 2**32), row
    assert row[3:-1] == values and row[-1] == 0x100, row
    buffer.ack(2)
    assert [row[0] for row in buffer.oldest(5, None)] == [4]
    buffer.ack(1)
    finer = tuple(field.lo + 0.12345 for field in measured)  # negative ones round too
    buffer.append(5, None, finer, 0)
    row = next(buffer.oldest(1, None))
    kept = tuple(round(finer[index], field.decimals) for index, field in enumerate(measured))
    assert row[3:-1] == kept, (row, kept)


def check_timing():
    ticks = Ticks()
    uptime = Uptime(ticks)
    deadline = Deadline(uptime)
    deadline.start(5000)
    ticks.ms += 4000  # across the 2**29 wrap
    assert uptime.ms() == 4000
    assert not deadline.expired()
    ticks.ms += 1000
    assert deadline.expired()
    backoff = Backoff(uptime, 1000, 30000, lambda: 0.5)
    assert [backoff.failed() for _ in range(7)] == [750, 1500, 3000, 6000, 12000, 22500, 22500]


def check_recovery():
    ladder = RecoveryLadder(120000, 1800000, 0)
    ladder.unanswered(120000)
    assert ladder.action(120000) == RESTART_RADIO
    ladder.radio_restarted(120000)
    ladder.unanswered(1800000)
    assert ladder.action(1800000, False) == RESTART_RADIO
    assert ladder.action(1800000) == RESET


def check_thermocouple():
    ticks = Ticks()
    driver = Driver()
    tc = Thermocouple(lambda: driver, 1, 60, Uptime(ticks))
    tc.start()
    assert tc.poll() is None
    ticks.ms += 400
    result = tc.poll()
    assert result is not None
    assert result[:3] == (None, None, 0x101), result
    assert driver.clears == 1, driver.clears
    debounce = FaultDebouncer(2)
    debounce.update(1)
    assert debounce.update(1) == 1


def check_max31856():
    bus = Bus()
    chip_select = ChipSelect()
    driver = Max31856(bus, chip_select, "N", 8, 50)
    assert bytes(bus.registers[:3]) == b"\x11\x34\x00", bus.registers
    assert bus.modes == [(0, 1)] and chip_select.value, (bus.modes, chip_select.value)
    bus.registers[10:16] = b"\xc9\x00\xf0\x60\x00\x41"
    assert driver.read() == (-250.0, -55.0, 0x41), driver.read()
    bus.registers[10:16] = b"\x7f\xfc\x64\x00\x00\x00"
    assert driver.read() == (1600.0, 127.984375, 0), driver.read()
    driver.start()
    assert bus.registers[0] == 0x51 and driver.converting, bus.registers[0]
    bus.registers[0] = 0x11
    assert not driver.converting
    driver.clear_faults()
    assert bus.registers[0] == 0x13, bus.registers[0]


def check_flame_health_led_persist():
    volts = FlameSensor(Adc(), 3.3 / 65535, 2.0, 0.0, 5).read_volts()
    assert volts is not None
    assert abs(volts - 30000 * 3.3 / 65535 * 2) < 1e-3, volts

    class Link:
        reconnects = 1
        radio_restarts = 0
        last_error = None

    report = Health().report(61000, 50000, -60, Link(), ReadingBuffer(2), True)
    assert report["uptime_s"] == 61 and report["buffer_capacity"] == 2

    pixel = [None]
    StatusLed(pixel=pixel).show(ONLINE, 0)
    assert pixel[0] == COLOURS[ONLINE]

    nvm = bytearray(256)
    record = persist.BootRecord(nvm, "POWER_ON", "STARTUP")
    record.count()
    assert persist.BootRecord(nvm, "SOFTWARE", "STARTUP").reset(
        persist.LONG_BOOT_MS, "offline 1800 s"
    )
    record = persist.BootRecord(nvm, "SOFTWARE", "STARTUP")
    assert (record.number, record.cause, record.streak) == (3, "offline 1800 s", 0)
    assert persist.hold_s(3) == 120


def check_link_errno():
    assert sensor_node.link.errno_of("[Errno 111] ECONNREFUSED") == 111
    assert sensor_node.app.enum_name("microcontroller.ResetReason.WATCHDOG") == "WATCHDOG"
    assert sensor_node.node.IDLE_MAX_MS == 100


CHECKS = (
    check_console,
    check_settings,
    check_ring_buffer,
    check_timing,
    check_recovery,
    check_thermocouple,
    check_max31856,
    check_flame_health_led_persist,
    check_link_errno,
)


def run():
    """Run every check; returns the number that failed."""
    failed = 0
    for check in CHECKS:
        try:
            check()
        except Exception as exc:
            failed += 1
            print("FAILED", check.__name__, repr(exc))
    print("implementation", sys.implementation.name)
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return failed
