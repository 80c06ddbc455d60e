"""Boards the virtual board can be: pin names (with their aliases), ADC pins, RAM, limits.

Pin tables follow CircuitPython's ``board`` module for each board: aliases are the same
object (``board.GP26 is board.A0`` on a Pico W), a name the board lacks is an
AttributeError, and only ADC-capable pins accept ``analogio.AnalogIn``. An unknown board
id gets a generous generic pin set so a new board can still be tried.
"""

from typing import NamedTuple


class Pin:
    """``microcontroller.Pin``: identity matters, the repr is the board name."""

    __slots__ = ("adc", "name")

    def __init__(self, name: str, *, adc: bool = False) -> None:
        self.name = name
        self.adc = adc

    def __repr__(self) -> str:
        return "board." + self.name


class BoardSpec(NamedTuple):
    board_id: str
    family: str
    """``rp2040``, ``rp2350``, ``esp32s2``, ``esp32s3`` or ``generic``."""
    machine: str
    pins: dict[str, Pin]
    heap_bytes: int
    """Total GC heap; ``gc.mem_free()`` at the start of code.py is about this minus boot use."""
    cpu_hz: int
    nvm_bytes: int
    watchdog_max_s: float | None
    watchdog_raise: bool
    """Whether ``WatchDogMode.RAISE`` exists (not on RP2040/RP2350)."""
    free_heap_bytes: int
    """``gc.mem_free()`` at the start of code.py on the real board (``FREE_HEAP``): the
    CircuitPython VM engine sizes its heap to read this figure there."""


def _table(entries: list[tuple[tuple[str, ...], bool]]) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    for names, adc in entries:
        pin = Pin(names[0], adc=adc)
        for name in names:
            pins[name] = pin
    return pins


def _pico_w_pins() -> dict[str, Pin]:
    entries: list[tuple[tuple[str, ...], bool]] = [((f"GP{n}",), False) for n in range(23)]
    entries += [
        (("GP26", "GP26_A0", "A0"), True),
        (("GP27", "GP27_A1", "A1"), True),
        (("GP28", "GP28_A2", "A2"), True),
        (("A3", "VOLTAGE_MONITOR"), True),
        (("LED",), False),
        (("SMPS_MODE",), False),
        (("VBUS_SENSE",), False),
    ]
    return _table(entries)


def _feather_esp32s3_pins() -> dict[str, Pin]:
    # ESP32-S3 ADC1 is GPIO1-10; A0-A4 sit on ADC2 (GPIO14-18), which Wi-Fi contends for.
    return _table(
        [
            (("BUTTON", "BOOT0", "D0"), False),
            (("A0",), True),
            (("A1",), True),
            (("A2",), True),
            (("A3",), True),
            (("A4",), True),
            (("A5",), True),
            (("D5",), True),
            (("D6",), True),
            (("D9",), True),
            (("D10",), True),
            (("D11",), True),
            (("D12",), True),
            (("D13", "LED"), True),
            (("SCK",), False),
            (("MOSI",), False),
            (("MISO",), False),
            (("RX",), False),
            (("TX",), False),
            (("SCL",), True),
            (("SDA",), True),
            (("NEOPIXEL",), False),
            (("NEOPIXEL_POWER",), False),
            (("I2C_POWER",), True),
        ]
    )


def _qtpy_esp32s2_pins() -> dict[str, Pin]:
    # ESP32-S2 ADC1 is GPIO1-10: A2 (GPIO9) and A3 (GPIO8) are ADC1, A0/A1 are ADC2.
    return _table(
        [
            (("A0",), True),
            (("A1",), True),
            (("A2",), True),
            (("A3",), True),
            (("SDA",), True),
            (("SCL",), True),
            (("TX",), True),
            (("RX",), True),
            (("SCK",), False),
            (("MISO",), False),
            (("MOSI",), False),
            (("NEOPIXEL",), False),
            (("NEOPIXEL_POWER",), False),
            (("BUTTON", "BOOT0"), False),
            (("SDA1",), False),
            (("SCL1",), False),
        ]
    )


def _generic_pins() -> dict[str, Pin]:
    names = [f"GP{n}" for n in range(30)] + [f"IO{n}" for n in range(49)]
    names += [f"D{n}" for n in range(49)] + [f"A{n}" for n in range(8)]
    names += ["SCK", "MOSI", "MISO", "SDA", "SCL", "TX", "RX", "LED", "NEOPIXEL"]
    names += ["NEOPIXEL_POWER", "BUTTON"]
    return _table([((name,), True) for name in names])


_PICO_HEAP = 131_072
_PICO2_HEAP = 442_368
_PSRAM_HEAP = 2_097_152

BOARDS: dict[str, tuple[str, str, int, int, int, float | None, bool]] = {
    # board_id: family, machine, heap, cpu Hz, nvm bytes, watchdog max s, RAISE supported.
    # nvm bytes: CIRCUITPY_INTERNAL_NVM_SIZE in ports/raspberrypi/mpconfigport.h (4 KiB) and
    # ports/espressif/mpconfigport.h (8 KiB). Watchdog: ports/raspberrypi/common-hal/watchdog/
    # WatchDogTimer.c validates the timeout's integer part to at most 8 (the RP2040's counter
    # ends at 8.388607 s) and raises NotImplementedError for RAISE; espressif's
    # WatchDogTimer.c takes up to UINT32_MAX ms and RAISE.
    "raspberry_pi_pico_w": (
        "rp2040", "Raspberry Pi Pico W with rp2040", _PICO_HEAP, 125_000_000, 4096, 8.388, False
    ),
    "raspberry_pi_pico2_w": (
        "rp2350", "Raspberry Pi Pico 2 W with rp2350a", _PICO2_HEAP, 150_000_000, 4096, 8.388,
        False,
    ),
    "adafruit_feather_esp32s3_4mbflash_2mbpsram": (
        "esp32s3", "Adafruit Feather ESP32S3 4MB Flash 2MB PSRAM with ESP32S3", _PSRAM_HEAP,
        240_000_000, 8192, None, True,
    ),
    "adafruit_qtpy_esp32s2": (
        "esp32s2", "Adafruit QT Py ESP32S2 with ESP32S2", _PSRAM_HEAP, 240_000_000, 8192, None,
        True,
    ),
}  # fmt: skip


class FreeHeap(NamedTuple):
    free_at_start: int
    """``gc.mem_free()`` as the first statement of code.py, in bytes."""
    source: str


FREE_HEAP = {
    "raspberry_pi_pico_w": FreeHeap(
        126_112,
        "measured: adafruit/circuitpython#9085 (CircuitPython 9.0.0, gc.mem_free() as the first "
        "line of code.py)",
    ),
    "raspberry_pi_pico2_w": FreeHeap(
        126_112 + 256 * 1024,
        "estimate, no published figure found: the Pico W's 126,112 plus the 256 KiB of SRAM the "
        "RP2350 has over the RP2040 (520 vs 264 KiB); the same CYW43 driver and supervisor take "
        "the same static RAM on both",
    ),
    "adafruit_feather_esp32s3_4mbflash_2mbpsram": FreeHeap(
        2_043_120,
        "estimate, no figure found for this board: its heap is in the same 2 MB of PSRAM as the "
        "QT Py ESP32-S2's (2,043,120, adafruit/circuitpython#6285)",
    ),
    "adafruit_qtpy_esp32s2": FreeHeap(
        2_043_120,
        "measured: adafruit/circuitpython#6285 (CircuitPython 7.2.5, gc.mem_free() in code.py; "
        "2 MB PSRAM; the Saola WROVER, also 2 MB PSRAM, read 2,048,784 in #3315)",
    ),
}
"""Free heap at the start of code.py per supported board, with where the figure comes from."""

_PIN_TABLES = {
    "raspberry_pi_pico_w": _pico_w_pins,
    "raspberry_pi_pico2_w": _pico_w_pins,
    "adafruit_feather_esp32s3_4mbflash_2mbpsram": _feather_esp32s3_pins,
    "adafruit_qtpy_esp32s2": _qtpy_esp32s2_pins,
}


def board_spec(board_id: str) -> BoardSpec:
    """The spec for ``board_id``; unknown ids get the generic pin set and a Pico-size heap."""
    if board_id in BOARDS:
        family, machine, heap, cpu, nvm, wdt_max, wdt_raise = BOARDS[board_id]
        return BoardSpec(
            board_id,
            family,
            machine,
            _PIN_TABLES[board_id](),
            heap,
            cpu,
            nvm,
            wdt_max,
            wdt_raise,
            FREE_HEAP[board_id].free_at_start,
        )
    return BoardSpec(
        board_id,
        "generic",
        f"{board_id} (virtual)",
        _generic_pins(),
        _PICO_HEAP,
        125_000_000,
        4096,
        None,
        True,
        FREE_HEAP["raspberry_pi_pico_w"].free_at_start,
    )


class PinClaims:
    """Pins in use: a second claim raises like CircuitPython (``ValueError: GP17 in use``)."""

    def __init__(self) -> None:
        self._claimed: set[Pin] = set()

    def claim(self, pin: object) -> Pin:
        if not isinstance(pin, Pin):
            raise TypeError(f"pin must be a Pin, not {type(pin).__name__}")
        if pin in self._claimed:
            raise ValueError(f"{pin.name} in use")
        self._claimed.add(pin)
        return pin

    def release(self, pin: Pin) -> None:
        self._claimed.discard(pin)
