"""Composition helpers: the settings wait (no crash loop), the birth message, names."""

import sys
import types

import pytest

from sensor_bridge.console.lines import parse_line
from sensor_node import __version__, app, boot
from sensor_node.console import Console
from sensor_node.status_led import COLOURS, CONFIG_ERROR, StatusLed
from sensor_node.timing import Uptime
from sensor_protocol import SCHEMA_MINOR
from sensor_protocol.limits import MAX_PAYLOAD_BYTES
from sensor_protocol.payloads import decode_status
from tests.unit.firmware.fakes import VALID_ENV, FakeBoard, FakeClock, FakePixel, FakeWatchdog

CA_TEXT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class SettingsRig:
    def __init__(self, env):
        self.env = dict(env)
        self.clock = FakeClock()
        self.uptime = Uptime(self.clock.ticks)
        self.lines: list[str] = []
        self.console = Console(self.uptime.ms, self.lines.append)
        self.pixel = FakePixel()
        self.watchdog = FakeWatchdog(self.clock)
        self.fix_at_ms: int | None = None
        self.fix = dict(VALID_ENV)
        self.reads = 0
        self.sleeper = self.sleep
        self.files = {"ca.pem": CA_TEXT}

    def getenv(self, key):
        if key == "CIRCUITPY_WIFI_SSID":
            self.reads += 1
        return self.env.get(key)

    def sleep(self, seconds):
        self.clock.sleep(seconds)
        if self.fix_at_ms is not None and self.clock.ms >= self.fix_at_ms:
            self.env.update(self.fix)

    def wait(self):
        return boot.wait_for_settings(
            getenv=self.getenv,
            board_module=FakeBoard,
            console=self.console,
            led=StatusLed(pixel=self.pixel),
            feed=self.watchdog.feed,
            uptime=self.uptime,
            sleep=self.sleeper,
            read_text=self.read_text,
        )

    def read_text(self, path):
        if path not in self.files:
            raise OSError(2, "No such file/directory")
        return self.files[path]

    def events(self):
        parsed = [parse_line(line) for line in self.lines]
        assert None not in parsed
        return [line for line in parsed if line is not None]


def test_valid_settings_pass_straight_through():
    rig = SettingsRig(VALID_ENV)

    settings, buffer = rig.wait()

    assert settings["DEVICE_ID"] == "furnace1"
    assert buffer.capacity == FakeBoard.DEFAULT_BUFFER_CAPACITY
    assert [event[2] for event in rig.events()] == ["settings_ok"]


def test_bad_settings_wait_with_one_line_the_colour_and_the_watchdog_fed():
    env = dict(VALID_ENV, SAMPLE_PERIOD_S="abc")
    rig = SettingsRig(env)
    rig.fix_at_ms = 10 * 60 * 1000
    rig.fix["SAMPLE_PERIOD_S"] = "5"

    settings, _ = rig.wait()

    events = rig.events()
    errors = [fields for _, level, event, fields in events if event == "settings"]
    # One line, printed again only every five minutes while unchanged.
    assert errors[0] == {
        "key": "SAMPLE_PERIOD_S",
        "problem": "must be a number between 0.5 and 60, got 'abc'",
        "fix": "write SAMPLE_PERIOD_S = 5 in settings.toml",
    }
    assert len(errors) == 2
    assert events[0][1] == "ERROR"
    assert rig.pixel.writes[0] == COLOURS[CONFIG_ERROR]
    assert rig.watchdog.max_gap_ms <= 200
    assert rig.reads == 21, "re-read every 30 s for 10 minutes, then once more"
    assert settings["SAMPLE_PERIOD_S"] == 5
    assert events[-1][2] == "settings_ok"


def test_a_missing_ca_waits_with_one_line_until_the_board_is_provisioned_again():
    rig = SettingsRig(VALID_ENV)
    del rig.files["ca.pem"]

    def sleep(seconds):
        rig.clock.sleep(seconds)
        if rig.clock.ms >= 65_000:
            rig.files["ca.pem"] = CA_TEXT

    rig.sleeper = sleep
    settings, _ = rig.wait()

    errors = [fields for _, _, event, fields in rig.events() if event == "settings"]
    assert errors == [
        {
            "key": "ca.pem",
            # CPython names the OSError FileNotFoundError; CircuitPython does not.
            "problem": "cannot be read with MQTT_TLS = 1 (FileNotFoundError: [Errno 2] No "
            "such file/directory)",
            "fix": "provision the board again (sensor-bridge provision writes ca.pem)",
        }
    ]
    assert settings["ca_pem"] == CA_TEXT
    assert rig.reads == 4, "re-read every 30 s until the file is there"


def test_plain_mqtt_reads_no_ca():
    rig = SettingsRig(dict(VALID_ENV, MQTT_TLS="0"))
    rig.files.clear()

    settings, _ = rig.wait()

    assert "ca_pem" not in settings


def test_a_changed_problem_is_printed_at_once():
    rig = SettingsRig({})

    def sleep(seconds):
        rig.clock.sleep(seconds)
        if rig.clock.ms >= 20_000:
            rig.env["CIRCUITPY_WIFI_SSID"] = "studio-wifi"
        if rig.clock.ms >= 65_000:
            rig.env.update(VALID_ENV)

    rig.sleeper = sleep
    rig.wait()

    keys = [fields["key"] for _, _, event, fields in rig.events() if event == "settings"]
    assert keys == ["CIRCUITPY_WIFI_SSID", "MQTT_BROKER"]


def test_a_buffer_too_big_for_ram_is_a_settings_error(monkeypatch):
    rig = SettingsRig(dict(VALID_ENV, BUFFER_CAPACITY=100000))

    def no_room(capacity):
        if capacity > 5000:
            raise MemoryError
        return types.SimpleNamespace(capacity=capacity)

    monkeypatch.setattr(boot, "ReadingBuffer", no_room)

    def sleep(seconds):
        rig.clock.sleep(seconds)
        if rig.clock.ms >= 40_000:
            rig.env["BUFFER_CAPACITY"] = 2000

    rig.sleeper = sleep
    _, buffer = rig.wait()

    error = next(fields for _, _, event, fields in rig.events() if event == "settings")
    assert error["key"] == "BUFFER_CAPACITY"
    assert error["problem"] == "100000 readings do not fit in free RAM"
    assert buffer.capacity == 2000


def test_the_birth_message_follows_the_contract():
    text = boot.birth_payload(
        boot=3,
        board_id="raspberry_pi_pico_w",
        reset_reason="WATCHDOG",
        safe_mode_reason="BROWNOUT",
        reset_cause="safe mode BROWNOUT",
        sample_period_s=5,
    )

    status = decode_status(text)
    assert status == {
        "v": 1,
        "minor": SCHEMA_MINOR,
        "boot": 3,
        "state": "online",
        "fw": __version__,
        "board": "raspberry_pi_pico_w",
        "reset_reason": "WATCHDOG",
        "safe_mode_reason": "BROWNOUT",
        "reset_cause": "safe mode BROWNOUT",
        "sample_period_s": 5.0,
    }


def test_the_largest_birth_message_fits():
    text = boot.birth_payload(
        boot=2**31 - 1,
        board_id="b" * 64,
        reset_reason="RESCUE_DEBUG",
        safe_mode_reason="s" * 48,
        reset_cause="c" * 120,
        sample_period_s=0.5,
    )

    assert decode_status(text)["reset_cause"] == "c" * 120
    assert len(text) < MAX_PAYLOAD_BYTES


def test_enum_names_lose_their_prefix():
    assert app.enum_name("microcontroller.ResetReason.WATCHDOG") == "WATCHDOG"
    assert app.enum_name("supervisor.SafeModeReason.BROWNOUT") == "BROWNOUT"
    assert app.enum_name(None) is None


def test_the_board_module_is_found_by_board_id(monkeypatch):
    module = types.ModuleType("boards.fake_board")
    monkeypatch.setitem(sys.modules, "boards.fake_board", module)

    assert boot.load_board_module("fake_board") is module
    with pytest.raises(ImportError):
        boot.load_board_module("no_such_board")


@pytest.mark.parametrize(
    ("error", "key"),
    [
        # CircuitPython 9.0-10.1, FLAME_DIVIDER_RATIO = 3.27 (shared-module/os/getenv.c).
        (ValueError("invalid syntax for integer with base 10"), "FLAME_DIVIDER_RATIO"),
        # Anything else the file or the parser may raise.
        (OSError(5, "EIO"), "settings.toml"),
        (RuntimeError("Internal error"), "settings.toml"),
    ],
)
def test_whatever_reading_the_settings_raises_is_a_wait_not_a_crash(monkeypatch, error, key):
    rig = SettingsRig(VALID_ENV)

    def getenv(name):
        if name == "FLAME_DIVIDER_RATIO" and rig.clock.ms < 60_000:
            raise error
        return rig.env.get(name)

    monkeypatch.setattr(rig, "getenv", getenv)
    settings, _ = rig.wait()

    errors = [fields for _, _, event, fields in rig.events() if event == "settings"]
    assert [fields["key"] for fields in errors] == [key]
    assert str(error) in errors[0]["problem"]
    assert settings["FLAME_DIVIDER_RATIO"] == 1.0
    assert rig.watchdog.max_gap_ms <= 200


def test_what_only_boot_needs_is_forgotten_with_its_package_attribute():
    def module(name, **attributes):
        made = types.ModuleType(name)
        made.__dict__.update(attributes)
        return made

    boot_module = module("sensor_node.boot")
    settings = module("sensor_node.settings")
    link = module("sensor_node.link")
    topics = module("sensor_protocol.topics")
    wire = module("sensor_protocol.wire")
    board = module("boards.fake_board")
    modules = {
        "sensor_node": module("sensor_node", boot=boot_module, settings=settings, link=link),
        "sensor_node.boot": boot_module,
        "sensor_node.settings": settings,
        "sensor_node.link": link,
        "sensor_protocol": module("sensor_protocol", topics=topics, wire=wire),
        "sensor_protocol.topics": topics,
        "sensor_protocol.limits": module("sensor_protocol.limits"),
        "sensor_protocol.wire": wire,
        "boards": module("boards", fake_board=board),
        "boards.fake_board": board,
    }

    app.forget_boot_modules(modules)

    assert sorted(modules) == [
        "sensor_node",
        "sensor_node.link",
        "sensor_protocol",
        "sensor_protocol.wire",
    ]
    assert not hasattr(modules["sensor_node"], "boot")
    assert not hasattr(modules["sensor_node"], "settings")
    assert modules["sensor_node"].link is link
    assert not hasattr(modules["sensor_protocol"], "topics")
    assert modules["sensor_protocol"].wire is wire
