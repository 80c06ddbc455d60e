"""Board modules: pins and numbers only, every pin real on that board, the ADC rules kept.

Each module runs against a ``board`` built from that board's CircuitPython definition
(circuitpython-stubs), so a pin the board does not have fails here, not on the furnace.
"""

import ast
import importlib.metadata
import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from sensor_bridge.bundle import boards_dir, supported_boards
from sensor_bridge.virtual.families import CHIP_FAMILY, ESPRESSIF, FAMILIES
from sensor_bridge.virtual.pins import BOARDS, FREE_HEAP, board_spec
from sensor_node.link import WIFI_CONNECT_TIMEOUT_S

REQUIRED_BOARDS = (
    "adafruit_feather_esp32s3_4mbflash_2mbpsram",
    "adafruit_qtpy_esp32s2",
    "raspberry_pi_pico_w",
    "raspberry_pi_pico2_w",
)

BOARD_NAMES = (
    "BOARD_ID",
    "SPI_SCK",
    "SPI_MOSI",
    "SPI_MISO",
    "THERMOCOUPLE_CS",
    "FLAME_ADC",
    "ADC_VOLTS_PER_COUNT",
    "STATUS_NEOPIXEL",
    "NEOPIXEL_POWER",
    "STATUS_LED",
    "WATCHDOG_MAX_S",
    "WATCHDOG_MIN_S",
    "RADIO_RESTART",
    "DEFAULT_BUFFER_CAPACITY",
    "TLS",
)

ONE_HOUR_AT_DEFAULT_PERIOD = 3600 // 5

# RP2040/RP2350 SPI function pins (datasheet GPIO function table): (SCK, TX, RX) per peripheral.
RP2_SPI = {
    "SPI0": ({2, 6, 18, 22}, {3, 7, 19, 23}, {0, 4, 16, 20}),
    "SPI1": ({10, 14, 26}, {11, 15, 27}, {8, 12, 24, 28}),
}


class Pin(NamedTuple):
    name: str
    gpio: str  # "GPIO26", or "CYW0" for a pin on the Pico W's radio chip


class BoardDefinition(NamedTuple):
    port: str
    pins: dict[str, Pin]


def definition(board_id: str) -> BoardDefinition:
    stub = importlib.metadata.distribution("circuitpython-stubs").locate_file(
        f"board_definitions/{board_id}/__init__.pyi"
    )
    text = Path(str(stub)).read_text(encoding="utf-8")
    port = re.search(r"- port: (\w+)", text)
    assert port, f"no port in {stub}"
    pins = {
        name: Pin(name, gpio)
        for name, gpio in re.findall(r"^(\w+): microcontroller\.Pin  # (\w+)", text, re.M)
    }
    return BoardDefinition(port.group(1), pins)


def load(board_id: str) -> types.ModuleType:
    """Run ``boards/<board_id>.py`` with that board's ``board`` module."""
    fake_board = types.ModuleType("board")
    fake_board.board_id = board_id  # type: ignore[attr-defined]
    for name, pin in definition(board_id).pins.items():
        setattr(fake_board, name, pin)
    spec = importlib.util.spec_from_file_location(
        f"boards_under_test.{board_id}", boards_dir() / f"{board_id}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("board")
    sys.modules["board"] = fake_board
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules["board"]
        else:
            sys.modules["board"] = saved
    return module


def gpio_number(pin: Any) -> int:
    assert isinstance(pin, Pin), pin
    assert pin.gpio.startswith("GPIO"), f"{pin.name} is {pin.gpio}, not a GPIO"
    return int(pin.gpio.removeprefix("GPIO"))


def test_the_required_boards_are_supported():
    assert set(REQUIRED_BOARDS) <= set(supported_boards())


def test_the_virtual_board_can_be_every_board_and_no_other():
    """A board module without a row in ``virtual/pins.py`` would run on the virtual board as
    the generic board (the raspberrypi port's quirks, a Pico's heap), and the heap test on
    CircuitPython's VM (test_device_vm_imports.py, one case per ``FREE_HEAP`` row) would
    leave it out: every board module has its rows, every row its board module."""
    assert sorted(BOARDS) == supported_boards()
    assert sorted(FREE_HEAP) == supported_boards()


@pytest.mark.parametrize("board_id", supported_boards())
def test_the_virtual_board_has_the_boards_pins_and_port(board_id):
    spec = board_spec(board_id)
    module = load(board_id)

    assert CHIP_FAMILY[spec.family].name == definition(board_id).port
    for name in BOARD_NAMES:
        pin = getattr(module, name)
        if isinstance(pin, Pin):
            assert pin.name in spec.pins, f"virtual/pins.py has no {pin.name} for {board_id}"
    assert spec.pins[module.FLAME_ADC.name].adc


@pytest.mark.parametrize("board_id", supported_boards())
def test_a_board_module_holds_pins_and_numbers_only(board_id):
    tree = ast.parse((boards_dir() / f"{board_id}.py").read_text(encoding="utf-8"))
    body = tree.body[1:] if ast.get_docstring(tree) else tree.body

    assigned = []
    for node in body:
        if isinstance(node, ast.Import):
            assert [alias.name for alias in node.names] == ["board"]
            continue
        assert isinstance(node, ast.Assign), ast.dump(node)
        assert len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        for part in ast.walk(node.value):
            assert isinstance(
                part,
                (ast.Constant, ast.Attribute, ast.Name, ast.Load, ast.BinOp, ast.operator),
            ), ast.dump(node)
            if isinstance(part, ast.Name):
                assert part.id == "board", ast.dump(node)
        assigned.append(node.targets[0].id)

    assert sorted(assigned) == sorted(BOARD_NAMES)


@pytest.mark.parametrize("board_id", supported_boards())
def test_every_pin_exists_on_the_board_and_is_used_once(board_id):
    module = load(board_id)
    pins = [getattr(module, name) for name in BOARD_NAMES if isinstance(getattr(module, name), Pin)]

    assert module.BOARD_ID == board_id
    gpios = [pin.gpio for pin in pins]
    assert len(gpios) == len(set(gpios)), f"a pin is used twice: {pins}"
    for name in ("SPI_SCK", "SPI_MOSI", "SPI_MISO", "THERMOCOUPLE_CS", "FLAME_ADC"):
        gpio_number(getattr(module, name))


@pytest.mark.parametrize("board_id", supported_boards())
def test_the_flame_adc_is_a_pin_that_works_with_wifi_on(board_id):
    module = load(board_id)
    gpio = gpio_number(module.FLAME_ADC)
    port = definition(board_id).port

    if port == "espressif":
        # ESP32-S2/S3: ADC1 is GPIO1..10; ADC2 belongs to Wi-Fi.
        assert 1 <= gpio <= 10, f"GPIO{gpio} is not on ADC1"
    else:
        assert port == "raspberrypi"
        # GPIO26..28 are the ADC inputs; GPIO29 is VSYS/3 and the radio's clock on a Pico W.
        assert 26 <= gpio <= 28, f"GPIO{gpio} is not a usable ADC pin"
    assert module.ADC_VOLTS_PER_COUNT == pytest.approx(3.3 / 65535)


# ESP32 boards route SPI to any pin through the GPIO matrix; the RP2 chips cannot.
@pytest.mark.parametrize(
    "board_id", [b for b in supported_boards() if definition(b).port == "raspberrypi"]
)
def test_the_spi_pins_belong_to_one_hardware_spi(board_id):
    module = load(board_id)
    sck, mosi, miso = (
        gpio_number(module.SPI_SCK),
        gpio_number(module.SPI_MOSI),
        gpio_number(module.SPI_MISO),
    )

    assert any(
        sck in sck_pins and mosi in tx_pins and miso in rx_pins
        for sck_pins, tx_pins, rx_pins in RP2_SPI.values()
    ), (sck, mosi, miso)


@pytest.mark.parametrize("board_id", supported_boards())
def test_the_status_light_is_the_neopixel_where_there_is_one(board_id):
    module = load(board_id)
    pins = definition(board_id).pins

    if "NEOPIXEL" in pins:
        assert module.STATUS_NEOPIXEL == pins["NEOPIXEL"]
        assert module.NEOPIXEL_POWER == pins.get("NEOPIXEL_POWER")
        assert module.STATUS_LED is None
    else:
        assert module.STATUS_NEOPIXEL is None
        assert module.NEOPIXEL_POWER is None
        assert module.STATUS_LED == pins["LED"]


@pytest.mark.parametrize("board_id", supported_boards())
def test_watchdog_and_buffer_numbers_fit_the_chip(board_id):
    module = load(board_id)

    if definition(board_id).port == "raspberrypi":
        # CircuitPython refuses a timeout over 8 s on RP2040 and RP2350.
        assert module.WATCHDOG_MAX_S == 8.0
    else:
        # An ESP32 join started just before its timeout runs a whole attempt (families.py).
        join_worst_s = WIFI_CONNECT_TIMEOUT_S + ESPRESSIF.wifi_connect_attempt_s
        assert module.WATCHDOG_MIN_S > join_worst_s
    assert module.WATCHDOG_MIN_S <= module.WATCHDOG_MAX_S
    # The radio-restart rung only where disabling the radio really stops it (families.py).
    assert module.RADIO_RESTART == FAMILIES[definition(board_id).port].radio_disable_stops_radio
    assert isinstance(module.DEFAULT_BUFFER_CAPACITY, int)
    assert module.DEFAULT_BUFFER_CAPACITY >= ONE_HOUR_AT_DEFAULT_PERIOD


def test_the_boards_package_holds_no_code():
    tree = ast.parse((boards_dir() / "__init__.py").read_text(encoding="utf-8"))

    assert len(tree.body) == 1 and ast.get_docstring(tree)
