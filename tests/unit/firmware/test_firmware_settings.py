"""The settings table: validation of every key and every error path, and the example file
generated from the same table."""

import tomllib
from pathlib import Path

import pytest

from sensor_bridge.virtual.families import release_line
from sensor_bridge.virtual.getenv import on_board, read_settings
from sensor_node.settings import (
    REQUIRED,
    SETTINGS,
    BoardValue,
    SettingsError,
    example_text,
    load_ca,
    load_settings,
    toml_value,
)
from tests.unit.firmware.fakes import VALID_ENV, FakeBoard

EXAMPLE = Path(__file__).resolve().parents[3] / "firmware" / "settings.toml.example"


def load(**overrides):
    env = dict(VALID_ENV)
    env.update(overrides)
    return load_settings(env.get, FakeBoard)


def problem(**overrides):
    with pytest.raises(SettingsError) as caught:
        load(**overrides)
    return caught.value


def test_the_table_has_one_row_per_key_with_a_known_kind():
    keys = [setting.key for setting in SETTINGS]

    assert len(keys) == len(set(keys))
    kinds = {"str", "id", "int", "float", "bool", "choice", "psk"}
    assert {setting.kind for setting in SETTINGS} <= kinds
    for setting in SETTINGS:
        assert setting.doc.endswith(".")
        if setting.default is REQUIRED or isinstance(setting.default, BoardValue):
            assert setting.example is not None, setting.key


def test_the_spec_keys_are_all_there():
    wanted = (
        "CIRCUITPY_WIFI_SSID CIRCUITPY_WIFI_PASSWORD MQTT_BROKER MQTT_PORT MQTT_TLS MQTT_USER "
        "MQTT_PASSWORD MQTT_TOPIC_ROOT STUDIO_ID DEVICE_ID SAMPLE_PERIOD_S HEALTH_PERIOD_S "
        "TC_TYPE TC_AVERAGING MAINS_HZ FLAME_DIVIDER_RATIO FLAME_OFFSET_V FLAME_OVERSAMPLE "
        "FAULT_DEBOUNCE BUFFER_CAPACITY NTP_SERVER NTP_PORT NTP_RESYNC_S KEEPALIVE_S "
        "RADIO_RESTART_AFTER_S RESET_AFTER_OFFLINE_S WATCHDOG_S PRODUCTION"
    ).split()

    assert [setting.key for setting in SETTINGS] == wanted


def test_defaults_fill_everything_but_the_required_keys():
    settings = load()

    assert settings["MQTT_PORT"] == 8883
    assert settings["MQTT_TLS"] is True
    assert settings["MQTT_TOPIC_ROOT"] == "furnace"
    assert settings["SAMPLE_PERIOD_S"] == 5
    assert settings["HEALTH_PERIOD_S"] == 60
    assert settings["TC_TYPE"] == "K"
    assert settings["TC_AVERAGING"] == 4
    assert settings["MAINS_HZ"] == 60
    assert settings["FLAME_OVERSAMPLE"] == 15
    assert settings["KEEPALIVE_S"] == 15
    assert settings["PRODUCTION"] is True
    assert settings["MQTT_USER"] == ""


def test_the_settings_are_a_plain_dict_of_every_key():
    # Not an instance of a class of sensor_node.settings: that would keep the whole module
    # (the table and its texts) in RAM after boot frees it.
    settings = load()

    assert type(settings) is dict
    assert sorted(settings) == sorted(setting.key for setting in SETTINGS)


def test_board_values_come_from_the_board_module():
    settings = load()

    assert settings["BUFFER_CAPACITY"] == FakeBoard.DEFAULT_BUFFER_CAPACITY
    assert settings["WATCHDOG_S"] == FakeBoard.WATCHDOG_MAX_S


def test_strings_and_integers_are_both_accepted():
    # CircuitPython's os.getenv returns int for bare integers, str otherwise.
    as_int = load(MQTT_PORT=1884, SAMPLE_PERIOD_S=2, PRODUCTION=0, MAINS_HZ=50, TC_AVERAGING=16)
    as_str = load(
        MQTT_PORT="1884", SAMPLE_PERIOD_S="2", PRODUCTION="0", MAINS_HZ="50", TC_AVERAGING="16"
    )

    for settings in (as_int, as_str):
        assert settings["MQTT_PORT"] == 1884
        assert settings["SAMPLE_PERIOD_S"] == 2.0
        assert settings["PRODUCTION"] is False
        assert settings["MAINS_HZ"] == 50
        assert settings["TC_AVERAGING"] == 16


def test_decimals_come_as_quoted_strings():
    settings = load(SAMPLE_PERIOD_S="0.5", FLAME_DIVIDER_RATIO="2.5", FLAME_OFFSET_V="-0.1")

    assert settings["SAMPLE_PERIOD_S"] == 0.5
    assert settings["FLAME_DIVIDER_RATIO"] == 2.5
    assert settings["FLAME_OFFSET_V"] == -0.1


def test_choices_ignore_case_and_bools_take_words():
    assert load(TC_TYPE="n")["TC_TYPE"] == "N"
    assert load(PRODUCTION="false")["PRODUCTION"] is False
    assert load(PRODUCTION="yes")["PRODUCTION"] is True


@pytest.mark.parametrize("key", ["CIRCUITPY_WIFI_SSID", "MQTT_BROKER", "STUDIO_ID", "DEVICE_ID"])
def test_a_missing_required_key_is_named_with_its_fix(key):
    env = {k: v for k, v in VALID_ENV.items() if k != key}
    with pytest.raises(SettingsError) as caught:
        load_settings(env.get, FakeBoard)

    assert caught.value.key == key
    assert caught.value.problem == "is missing"
    assert caught.value.fix.startswith(f"write {key} = ")


def test_an_empty_required_string_is_refused():
    error = problem(MQTT_BROKER="")

    assert (error.key, error.problem) == ("MQTT_BROKER", "is empty")


def test_the_first_bad_key_in_table_order_is_reported():
    error = problem(MQTT_PORT="x", SAMPLE_PERIOD_S="y")

    assert error.key == "MQTT_PORT"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("SAMPLE_PERIOD_S", "abc", "must be a number between 0.5 and 60, got 'abc'"),
        ("SAMPLE_PERIOD_S", "0.1", "must be a number between 0.5 and 60, got '0.1'"),
        ("SAMPLE_PERIOD_S", "nan", "must be a number between 0.5 and 60, got 'nan'"),
        ("MQTT_PORT", "70000", "must be a whole number between 1 and 65535, got '70000'"),
        ("MQTT_PORT", 0, "must be a whole number between 1 and 65535, got 0"),
        ("FLAME_OVERSAMPLE", "2.5", "must be a whole number between 1 and 63, got '2.5'"),
        ("HEALTH_PERIOD_S", "5", "must be a whole number between 10 and 3600, got '5'"),
        ("BUFFER_CAPACITY", "10", "must be a whole number between 60 and 100000, got '10'"),
        ("WATCHDOG_S", "9", "must be a number between 8 and 8, got '9'"),
        ("WATCHDOG_S", "5", "must be a number between 8 and 8, got '5'"),
        ("PRODUCTION", "maybe", "must be 1 or 0, got 'maybe'"),
        ("TC_TYPE", "Q", "must be one of B, E, J, K, N, R, S, T, got 'Q'"),
        ("TC_AVERAGING", "3", "must be one of 1, 2, 4, 8, 16, got '3'"),
        ("MAINS_HZ", 55, "must be one of 50, 60, got 55"),
        ("DEVICE_ID", "Furnace1", "has 'F'; use only a-z, 0-9, '_' and '-', got 'Furnace1'"),
        ("STUDIO_ID", "a/b", "has '/'; use only a-z, 0-9, '_' and '-', got 'a/b'"),
        ("MQTT_TOPIC_ROOT", "x" * 33, f"is longer than 32 characters, got '{'x' * 33}'"),
        ("CIRCUITPY_WIFI_SSID", "s" * 33, "must be 1 to 32 characters long, got 33"),
        ("MQTT_PASSWORD", "p" * 129, "must be 0 to 128 characters long, got 129"),
    ],
)
def test_each_bad_value_gets_one_clear_problem(key, value, message):
    error = problem(**{key: value})

    assert error.key == key
    assert error.problem == message
    assert error.fix.startswith(f"write {key} = ")
    assert key in str(error)


@pytest.mark.parametrize("password", ["x", "1234567", "p" * 64, "g" * 64, "p" * 65])
def test_a_wifi_password_wifi_radio_connect_refuses_is_a_settings_error(password):
    # shared-bindings/wifi/Radio.c: empty, or 8 to 64 bytes, the 64 all hex digits.
    error = problem(CIRCUITPY_WIFI_PASSWORD=password)

    assert error.key == "CIRCUITPY_WIFI_PASSWORD"
    size = len(password)
    assert error.problem == f"must be empty or 8 to 63 characters (or 64 hex digits), got {size}"
    assert error.fix == 'write the network\'s password as CIRCUITPY_WIFI_PASSWORD = "..."'


@pytest.mark.parametrize("password", ["", "12345678", "é" * 4, "p" * 63, "0aF9" * 16])
def test_a_wifi_password_wifi_radio_connect_takes_is_kept(password):
    assert load(CIRCUITPY_WIFI_PASSWORD=password)["CIRCUITPY_WIFI_PASSWORD"] == password


def test_a_user_needs_a_password():
    # MiniMQTT 8.1.0 sends a user name only with a password: None.encode() otherwise.
    error = problem(MQTT_USER="node")

    assert error.key == "MQTT_PASSWORD"
    assert "MQTT_USER is set" in error.problem
    assert error.fix.startswith('write MQTT_PASSWORD = "')


@pytest.mark.parametrize(
    ("circuitpython", "value"),
    [((9, 2, 9), None), ((10, 1, 0), None), ((10, 2, 0), 3.27)],
)
def test_an_unquoted_decimal_is_named_with_its_fix(tmp_path, circuitpython, value):
    # 9.0 to 10.1: os.getenv raises ValueError for an unquoted non-integer (getenv.c);
    # 10.2 returns the text. Read through the virtual board's os.getenv, which follows both.
    path = tmp_path / "settings.toml"
    lines = [f'{key} = "{text}"' for key, text in VALID_ENV.items()]
    path.write_text("\n".join([*lines, "FLAME_DIVIDER_RATIO = 3.27", ""]))
    line = release_line(circuitpython)

    def getenv(key):
        return on_board(read_settings(path), key, None, line)

    if value is not None:
        assert load_settings(getenv, FakeBoard)["FLAME_DIVIDER_RATIO"] == value
        return
    with pytest.raises(SettingsError) as caught:
        load_settings(getenv, FakeBoard)
    assert caught.value.key == "FLAME_DIVIDER_RATIO"
    assert caught.value.problem.startswith(
        "cannot be read (invalid syntax for integer with base 10"
    ), caught.value.problem
    assert caught.value.fix == 'put the value in double quotes: FLAME_DIVIDER_RATIO = "..."'


def test_the_fix_shows_a_valid_value_in_toml():
    assert problem(SAMPLE_PERIOD_S="x").fix == "write SAMPLE_PERIOD_S = 5 in settings.toml"
    assert problem(FLAME_OFFSET_V="x").fix == "write FLAME_OFFSET_V = 0 in settings.toml"
    assert problem(TC_TYPE="x").fix == 'write TC_TYPE = "K" in settings.toml'
    assert problem(WATCHDOG_S="x").fix == "write WATCHDOG_S = 8 in settings.toml"


def test_reset_must_come_after_the_radio_restart():
    error = problem(RADIO_RESTART_AFTER_S=600, RESET_AFTER_OFFLINE_S=600)

    assert error.key == "RESET_AFTER_OFFLINE_S"
    assert "greater than RADIO_RESTART_AFTER_S (600)" in error.problem


def test_a_password_needs_a_user():
    error = problem(MQTT_PASSWORD="secret")

    assert error.key == "MQTT_USER"
    assert load(MQTT_USER="node", MQTT_PASSWORD="secret")["MQTT_USER"] == "node"


def test_an_empty_optional_number_takes_its_default():
    assert load(MQTT_PORT="")["MQTT_PORT"] == 8883


def test_each_key_is_read_once():
    reads = []

    def getenv(key):
        reads.append(key)
        return VALID_ENV.get(key)

    load_settings(getenv, FakeBoard)

    assert sorted(reads) == sorted(setting.key for setting in SETTINGS)


def test_unknown_keys_are_an_error():
    settings = load()

    with pytest.raises(KeyError):
        settings["SAMPLE_PERIOD"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "1"), (False, "0"), (1883, "1883"), (5.0, "5"), (0.5, '"0.5"'), ("K", '"K"')],
)
def test_toml_values_are_what_circuitpython_can_read(value, text):
    assert toml_value(value) == text


def test_the_example_file_is_generated_from_the_table():
    assert EXAMPLE.read_text(encoding="utf-8") == example_text(), (
        "firmware/settings.toml.example is stale; regenerate it: hatch run python -c "
        "'import sys; from sensor_node.settings import example_text; "
        "sys.stdout.write(example_text())' > firmware/settings.toml.example"
    )


def test_the_example_file_documents_every_key():
    text = example_text()

    for setting in SETTINGS:
        assert f"\n{setting.key} = " in text or f"\n# {setting.key} = " in text


def test_the_example_file_is_valid_settings():
    parsed = tomllib.loads(example_text())
    # The virtual board hands values to os.getenv as strings; a board as str or int.
    as_strings = {key: str(value) for key, value in parsed.items()}

    assert load_settings(parsed.get, FakeBoard)["DEVICE_ID"] == "furnace1"
    assert load_settings(as_strings.get, FakeBoard)["SAMPLE_PERIOD_S"] == 5
    for value in parsed.values():
        assert isinstance(value, (str, int)), "CircuitPython reads only strings and integers"


class Esp32Board(FakeBoard):
    WATCHDOG_MAX_S = 30.0
    WATCHDOG_MIN_S = 25.0


def test_the_watchdog_cannot_be_shorter_than_the_boards_longest_blocking_step():
    # ESP32: wifi.radio.connect(timeout=5) can block 19.4 s (sensor_node.link).
    env = dict(VALID_ENV, WATCHDOG_S="8")
    with pytest.raises(SettingsError) as caught:
        load_settings(env.get, Esp32Board)

    assert caught.value.key == "WATCHDOG_S"
    assert caught.value.problem == "must be a number between 25 and 30, got '8'"
    assert load_settings(VALID_ENV.get, Esp32Board)["WATCHDOG_S"] == 30.0


CA_TEXT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_the_ca_is_read_from_ca_pem():
    opened = []

    def read_text(path):
        opened.append(path)
        return CA_TEXT

    assert load_ca(read_text) == CA_TEXT
    assert opened == ["ca.pem"]


def _missing(path):
    raise OSError(2, "No such file/directory")


@pytest.mark.parametrize(
    ("read_text", "problem_text"),
    [
        (_missing, "cannot be read with MQTT_TLS = 1 (FileNotFoundError: [Errno 2] No such file"),
        (lambda path: b"\xff".decode(), "cannot be read with MQTT_TLS = 1 (UnicodeDecodeError"),
        (lambda path: "", "holds no PEM certificate"),
        (lambda path: CA_TEXT.split("\n-----END", maxsplit=1)[0], "holds no PEM certificate"),
    ],
)
def test_a_missing_or_bad_ca_is_a_settings_error_that_says_provision_again(read_text, problem_text):
    with pytest.raises(SettingsError) as caught:
        load_ca(read_text)

    assert caught.value.key == "ca.pem"
    assert caught.value.problem.startswith(problem_text), caught.value.problem
    assert "provision the board again" in caught.value.fix
