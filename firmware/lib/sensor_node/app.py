"""
`sensor_node.app`
================================================================================
Composition on a board, real or virtual: boot bookkeeping, the board module, the
watchdog, the settings (waiting with the error colour until they are valid), the
hardware, the network and the node. ``code.py`` calls ``run()``.

``run()`` holds the firmware's one catch-all: anything that escapes is logged with its
traceback, recorded in nvm as the reset cause and answered with ``microcontroller.reset()``.
So ``code.py`` never ends normally (which would disarm the watchdog) and never stops in
the REPL.

CircuitPython-only modules are imported inside the functions that use them, so this
module also imports on CPython.
"""

import sys

from sensor_node import __version__, persist
from sensor_node.backoff import Backoff
from sensor_node.clock import WallClock
from sensor_node.console import Console
from sensor_node.flame import FlameSensor
from sensor_node.health import Health
from sensor_node.link import BACKOFF_BASE_MS, BACKOFF_CAP_MS, SOCKET_TIMEOUT_S, Link
from sensor_node.node import Node
from sensor_node.recovery import RecoveryLadder
from sensor_node.ring_buffer import ReadingBuffer
from sensor_node.settings import SettingsError, load_settings
from sensor_node.status_led import CONFIG_ERROR, CONNECTING, StatusLed
from sensor_node.thermocouple import FaultDebouncer, Thermocouple
from sensor_node.timing import Deadline, Uptime
from sensor_protocol.payloads import encode_status

try:
    from typing import Any, Callable, List, Optional, Tuple

    from sensor_node.settings import Settings
except ImportError:
    pass

SETTINGS_RETRY_MS = 30000
"""How often the settings are read again while they are bad."""
SETTINGS_REPRINT_MS = 300000
"""How often an unchanged settings error is printed again."""
NEOPIXEL_BRIGHTNESS = 0.1
EARLY_CRASH_MS = 60000
CRASH_HOLD_MS = 30000
"""A crash within ``EARLY_CRASH_MS`` of boot waits this long before the reset, so that a
crash at boot repeats every half minute rather than every second (each boot writes nvm)."""


def enum_name(value: "Any") -> "Optional[str]":
    """``"WATCHDOG"`` from ``microcontroller.ResetReason.WATCHDOG`` (and the like)."""
    if value is None:
        return None
    return str(value).split(".")[-1]


def birth_payload(
    boot: int,
    board_id: str,
    reset_reason: "Optional[str]",
    safe_mode_reason: "Optional[str]",
    reset_cause: "Optional[str]",
    sample_period_s: float,
) -> str:
    """The retained birth message on ``status``."""
    return encode_status(
        boot,
        {
            "state": "online",
            "fw": __version__,
            "board": board_id,
            "reset_reason": reset_reason,
            "safe_mode_reason": safe_mode_reason,
            "reset_cause": reset_cause,
            "sample_period_s": float(sample_period_s),
        },
    )


def load_board_module(board_id: str) -> "Any":
    """The module ``boards.<board_id>``: pins and numbers for this board."""
    name = "boards." + board_id
    __import__(name)
    return sys.modules[name]


def wait_for_settings(
    getenv: "Callable[[str], Any]",
    board_module: "Any",
    console: "Any",
    led: "Any",
    feed: "Callable[[], Any]",
    uptime: "Uptime",
    sleep: "Callable[[float], Any]",
) -> "Tuple[Settings, ReadingBuffer]":
    """Valid settings and the buffer they size. While they are bad: one console line
    naming the key and the fix (again when the problem changes, or every 5 minutes), the
    configuration-error colour, the watchdog fed, and a fresh read every 30 s."""
    retry = Deadline(uptime)
    reprint = Deadline(uptime)
    shown = ""
    while True:
        capacity = 0
        try:
            settings = load_settings(getenv, board_module)
            capacity = settings["BUFFER_CAPACITY"]
            buffer = ReadingBuffer(capacity)
        except SettingsError as exc:
            error = exc
        except MemoryError:
            error = SettingsError(
                "BUFFER_CAPACITY",
                "%d readings do not fit in free RAM" % capacity,
                "write a smaller BUFFER_CAPACITY in settings.toml",
            )
        else:
            console.info(
                "settings_ok",
                "studio",
                settings["STUDIO_ID"],
                "device",
                settings["DEVICE_ID"],
                "broker",
                settings["MQTT_BROKER"],
                "buffer_capacity",
                capacity,
            )
            return settings, buffer
        text = error.key + error.problem
        if text != shown or reprint.expired():
            console.error("settings", "key", error.key, "problem", error.problem, "fix", error.fix)
            shown = text
            reprint.start(SETTINGS_REPRINT_MS)
        retry.start(SETTINGS_RETRY_MS)
        while not retry.expired():
            feed()
            led.show(CONFIG_ERROR, uptime.ms())
            sleep(0.1)


def _traceback_lines(exc: BaseException) -> "List[str]":
    try:
        import traceback

        text = "".join(traceback.format_exception(exc))
    except ImportError:
        text = repr(exc)
    return [line for line in text.split("\n") if line.strip()]


def _make_led(board_module: "Any") -> "StatusLed":
    import digitalio

    power = None
    if board_module.NEOPIXEL_POWER is not None:
        power = digitalio.DigitalInOut(board_module.NEOPIXEL_POWER)
        power.switch_to_output(value=True)
    if board_module.STATUS_NEOPIXEL is not None:
        import neopixel

        pixel = neopixel.NeoPixel(
            board_module.STATUS_NEOPIXEL, 1, brightness=NEOPIXEL_BRIGHTNESS, auto_write=True
        )
        return StatusLed(pixel=pixel, power=power)
    if board_module.STATUS_LED is not None:
        led = digitalio.DigitalInOut(board_module.STATUS_LED)
        led.switch_to_output(value=False)
        return StatusLed(led=led, power=power)
    return StatusLed(power=power)


def _compose(
    settings: "Settings",
    buffer: "ReadingBuffer",
    board_module: "Any",
    birth: str,
    boot: int,
    uptime: "Uptime",
    console: "Console",
    led: "StatusLed",
) -> "Node":
    import analogio
    import busio
    import digitalio
    import gc
    import microcontroller
    import random
    import time
    import wifi

    import adafruit_connection_manager
    import adafruit_max31856
    import adafruit_ntp
    from adafruit_minimqtt.adafruit_minimqtt import MQTT, MMQTTException

    spi = busio.SPI(board_module.SPI_SCK, MOSI=board_module.SPI_MOSI, MISO=board_module.SPI_MISO)
    chip_select = digitalio.DigitalInOut(board_module.THERMOCOUPLE_CS)
    tc_type = getattr(adafruit_max31856.ThermocoupleType, settings["TC_TYPE"])

    def make_driver() -> "Any":
        return adafruit_max31856.MAX31856(spi, chip_select, thermocouple_type=tc_type)

    ntp_server = settings["NTP_SERVER"] or settings["MQTT_BROKER"]

    def make_ntp(pool: "Any") -> "Any":
        return adafruit_ntp.NTP(
            pool,
            server=ntp_server,
            port=settings["NTP_PORT"],
            socket_timeout=SOCKET_TIMEOUT_S,
        )

    def close_sockets(pool: "Any", forget: bool) -> None:
        # Registering first makes a pool no client has used yet closable and forgettable.
        adafruit_connection_manager.get_connection_manager(pool)
        adafruit_connection_manager.connection_manager_close_all(pool, release_references=forget)

    def reset_board(cause: str) -> None:
        console.error("reset", "cause", cause)
        persist.record_reset_cause(microcontroller.nvm, cause)
        microcontroller.reset()

    link = Link(
        settings,
        wifi.radio,
        adafruit_connection_manager.get_radio_socketpool,
        MQTT,
        MMQTTException,
        close_sockets,
        birth,
        uptime,
        console,
        Backoff(uptime, BACKOFF_BASE_MS, BACKOFF_CAP_MS, random.random),
        RecoveryLadder(
            settings["RADIO_RESTART_AFTER_S"] * 1000,
            settings["RESET_AFTER_OFFLINE_S"] * 1000,
            uptime.ms(),
        ),
        reset_board,
    )
    return Node(
        settings,
        boot,
        uptime,
        console,
        microcontroller.watchdog,
        Thermocouple(make_driver, settings["TC_AVERAGING"], settings["MAINS_HZ"], uptime),
        FaultDebouncer(settings["FAULT_DEBOUNCE"]),
        FlameSensor(
            analogio.AnalogIn(board_module.FLAME_ADC),
            board_module.ADC_VOLTS_PER_COUNT,
            settings["FLAME_DIVIDER_RATIO"],
            settings["FLAME_OFFSET_V"],
            settings["FLAME_OVERSAMPLE"],
        ),
        buffer,
        link,
        WallClock(uptime, make_ntp, ntp_server, settings["NTP_RESYNC_S"] * 1000, console),
        Health(),
        led,
        gc.mem_free,  # type: ignore[attr-defined]
        time.sleep,
    )


def _start(uptime: "Uptime", console: "Console") -> None:
    import board
    import microcontroller
    import os
    import supervisor
    import time
    import watchdog

    boot, reset_cause, safe_mode_reason = persist.begin_boot(microcontroller.nvm)
    reset_reason = enum_name(microcontroller.cpu.reset_reason)
    board_id = board.board_id
    console.info(
        "boot",
        "fw",
        __version__,
        "board",
        board_id,
        "reset_reason",
        reset_reason,
        "boot",
        boot,
        "reset_cause",
        reset_cause,
        "safe_mode_reason",
        safe_mode_reason,
    )
    try:
        board_module = load_board_module(board_id)
    except ImportError:
        # Nothing can run without pins; resetting would only loop. Wait for new files.
        console.error("board_unsupported", "board", board_id, "fix", "add boards/%s.py" % board_id)
        while True:
            time.sleep(60)
    dog = microcontroller.watchdog
    if dog is None:
        raise RuntimeError("board %s has no watchdog; it is not supported" % board_id)
    dog.timeout = board_module.WATCHDOG_MAX_S
    dog.mode = watchdog.WatchDogMode.RESET
    dog.feed()
    led = _make_led(board_module)
    led.show(CONNECTING, uptime.ms())
    settings, buffer = wait_for_settings(
        os.getenv, board_module, console, led, dog.feed, uptime, time.sleep
    )
    supervisor.runtime.autoreload = not settings["PRODUCTION"]
    if settings["WATCHDOG_S"] != dog.timeout:
        dog.timeout = settings["WATCHDOG_S"]
    birth = birth_payload(
        boot,
        board_id,
        reset_reason,
        safe_mode_reason,
        reset_cause,
        settings["SAMPLE_PERIOD_S"],
    )
    _compose(settings, buffer, board_module, birth, boot, uptime, console, led).run()


def run() -> None:
    """Start the node; never returns."""
    import microcontroller

    uptime = Uptime()
    console = Console(uptime.ms)
    try:
        _start(uptime, console)
    except Exception as exc:  # the catch-all: log, remember, reset
        for line in _traceback_lines(exc):
            console.error("traceback", "line", line)
        cause = "crash: %s: %s" % (type(exc).__name__, exc)
        try:
            persist.record_reset_cause(microcontroller.nvm, cause)
        except Exception as nvm_exc:  # a broken nvm must not stop the reset
            console.error("nvm_failed", "reason", repr(nvm_exc))
        console.error("reset", "cause", cause)
        if uptime.ms() < EARLY_CRASH_MS:
            _hold(uptime, microcontroller.watchdog)
        microcontroller.reset()


def _hold(uptime: "Uptime", dog: "Any") -> None:
    import time

    until = Deadline(uptime)
    until.start(CRASH_HOLD_MS)
    while not until.expired():
        try:
            dog.feed()
        except (ValueError, RuntimeError):
            pass  # the crash came before the watchdog was armed
        time.sleep(1)
