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
from sensor_node.recovery import RESET, RESTART_RADIO, RecoveryLadder
from sensor_node.ring_buffer import BYTES_PER_READING, ReadingBuffer
from sensor_node.settings import SettingsError, example_text, load_settings
from sensor_node.status_led import COLOURS, ONLINE, StatusLed
from sensor_node.thermocouple import FaultDebouncer, Thermocouple, fault_bits
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
        self.averaging = 1
        self.noise_rejection = 60
        self.pending = True
        self.fault = {"open_tc": True}
        self.writes = []

    def initiate_one_shot_measurement(self):
        pass

    @property
    def oneshot_pending(self):
        return self.pending

    def unpack_temperature(self):
        return 1100.0

    def unpack_reference_temperature(self):
        return 25.0

    def _read_register(self, address, length):
        return bytearray([0x50])

    def _write_u8(self, address, value):
        self.writes.append((address, value))


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
    row = next(buffer.oldest(1))
    assert row[:3] == (2, 2**32, 1764000000000 + 2**32), row
    assert row[3:-1] == values and row[-1] == 0x100, row
    buffer.ack(2)
    assert [row[0] for row in buffer.oldest(5)] == [4]
    buffer.ack(1)
    finer = tuple(field.lo + 0.12345 for field in measured)  # negative ones round too
    buffer.append(5, None, finer, 0)
    row = next(buffer.oldest(1))
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
    assert ladder.action(120000) == RESTART_RADIO
    ladder.radio_restarted(120000)
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
    assert driver.writes == [(0, 0x12)], driver.writes
    debounce = FaultDebouncer(2)
    debounce.update(1)
    assert debounce.update(1) == 1
    assert fault_bits({"cj_range": True}) == 0x80


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
