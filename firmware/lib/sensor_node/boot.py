"""
`sensor_node.boot`
================================================================================
Composition on a board, real or virtual: the board module, the settings (waiting with the
error colour until they are valid), the libraries, the hardware, the network and the node,
then the watchdog, armed once with its final timeout (espressif refuses a new timeout once
it runs: common-hal/watchdog/WatchDogTimer.c). Everything before the watchdog is bounded or
waits on purpose: importing the libraries (compiling ``.py`` on an RP2040 takes seconds)
does not count against it. ``sensor_node.app`` calls ``start()``.

Boot only: ``app`` frees this module, the settings table, ``topics``, ``limits`` and the
board module once the node is composed (``app.forget_boot_modules``). So nothing the node
keeps may refer to this module: the callables it keeps (``make_driver``,
``close_sockets``, ``reset_board``, the loop's sleep) are made by functions of ``app``,
since a closure or an instance keeps its whole module in RAM.

CircuitPython-only modules are imported inside the functions that use them, so this
module also imports on CPython.
"""

import sys

from sensor_node import __version__, app
from sensor_node.backoff import Backoff
from sensor_node.clock import WallClock
from sensor_node.console import Console
from sensor_node.flame import FlameSensor
from sensor_node.health import Health
from sensor_node.link import BACKOFF_BASE_MS, BACKOFF_CAP_MS, SOCKET_TIMEOUT_S, Link
from sensor_node.node import Node
from sensor_node.recovery import RecoveryLadder
from sensor_node.ring_buffer import ReadingBuffer
from sensor_node.status_led import CONFIG_ERROR, CONNECTING, StatusLed
from sensor_node.thermocouple import FaultDebouncer, Thermocouple
from sensor_node.timing import Deadline, Uptime
from sensor_protocol.wire import encode_status

try:
    from typing import Any, Callable, Dict, Optional, Tuple

    from sensor_node.persist import BootRecord
except ImportError:
    pass

SETTINGS_RETRY_MS = 30000
"""How often the settings are read again while they are bad."""
SETTINGS_REPRINT_MS = 300000
"""How often an unchanged settings error is printed again."""
NEOPIXEL_BRIGHTNESS = 0.1


def birth_payload(
    *,
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


def wait_for_settings(
    *,
    getenv: "Callable[[str], Any]",
    board_module: "Any",
    console: "Any",
    led: "Any",
    feed: "Callable[[], Any]",
    uptime: "Uptime",
    sleep: "Callable[[float], Any]",
    read_text: "Optional[Callable[[str], str]]" = None,
) -> "Tuple[Dict[str, Any], ReadingBuffer]":
    """Valid settings and the buffer they size; with ``MQTT_TLS``, ``settings["ca_pem"]``
    holds the text of ca.pem (read through ``read_text``, a file's whole text). While they
    are bad: one console line naming the key and the fix (again when the problem changes,
    or every 5 minutes), the configuration-error colour, the watchdog fed, and a fresh read
    every 30 s."""
    # Imported here only, so that nothing but sys.modules and its package holds the settings
    # table once boot is over (app.forget_boot_modules frees it).
    from sensor_node.settings import SettingsError, load_ca, load_settings

    if read_text is None:
        read_text = _read_text

    retry = Deadline(uptime)
    reprint = Deadline(uptime)
    shown = ""
    while True:
        capacity = 0
        try:
            settings = load_settings(getenv, board_module)
            if settings["MQTT_TLS"]:
                settings["ca_pem"] = load_ca(read_text)
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
        except Exception as exc:  # whatever reading the file raises: wait, never reset-loop
            error = SettingsError(
                "settings.toml",
                "cannot be read (%s: %s)" % (type(exc).__name__, exc),
                "compare it with settings.toml.example",
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


def _read_text(path: str) -> str:
    with open(path) as file:
        return file.read()


def _ssl_context(settings: "Dict[str, Any]") -> "Any":
    """The TLS context of every broker connection, or None for plain MQTT. Made once:
    CircuitPython's ``load_verify_locations`` keeps a pointer to ``cadata``, not a copy
    (shared-module/ssl/SSLContext.c), so the text stays referenced by ``settings``, which
    the link keeps; each connect parses it anew (shared-module/ssl/SSLSocket.c)."""
    if not settings["MQTT_TLS"]:
        return None
    import ssl

    context = ssl.create_default_context()
    context.load_verify_locations(cadata=settings["ca_pem"])
    return context


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


def _compose(  # noqa: PLR0913 - what the boot made before, handed to the node's parts
    *,
    settings: "Dict[str, Any]",
    buffer: "ReadingBuffer",
    board_module: "Any",
    birth: str,
    record: "BootRecord",
    dog: "Any",
    uptime: "Uptime",
    console: "Console",
    led: "StatusLed",
    sleep: "Callable[[float], Any]",
) -> "Node":
    import analogio
    import busio
    import digitalio
    import random
    import wifi

    import adafruit_connection_manager
    from adafruit_minimqtt.adafruit_minimqtt import MQTT, MMQTTException

    from sensor_node.max31856 import Max31856

    spi = busio.SPI(board_module.SPI_SCK, MOSI=board_module.SPI_MOSI, MISO=board_module.SPI_MISO)
    chip_select = digitalio.DigitalInOut(board_module.THERMOCOUPLE_CS)
    averaging = settings["TC_AVERAGING"]
    mains_hz = settings["MAINS_HZ"]

    # The callables the node keeps come from app, which stays loaded (see the docstring).
    make_driver = app.driver_maker(
        driver_class=Max31856,
        spi=spi,
        chip_select=chip_select,
        tc_type=settings["TC_TYPE"],
        averaging=averaging,
        mains_hz=mains_hz,
    )
    ntp_server = settings["NTP_SERVER"] or settings["MQTT_BROKER"]
    link = Link(
        settings=settings,
        radio=wifi.radio,
        make_pool=adafruit_connection_manager.get_radio_socketpool,
        mqtt_class=MQTT,
        mqtt_error=MMQTTException,
        close_sockets=app.close_sockets,
        birth_payload=birth,
        uptime=uptime,
        console=console,
        backoff=Backoff(uptime, BACKOFF_BASE_MS, BACKOFF_CAP_MS, random.random),
        ladder=RecoveryLadder(
            settings["RADIO_RESTART_AFTER_S"] * 1000,
            settings["RESET_AFTER_OFFLINE_S"] * 1000,
            uptime.ms(),
        ),
        reset_board=app.board_resetter(record, uptime, console),
        feed=dog.feed,
        radio_restart=board_module.RADIO_RESTART,
        ssl_context=_ssl_context(settings),
    )

    return Node(
        settings=settings,
        boot=record.number,
        uptime=uptime,
        console=console,
        watchdog=dog,
        thermocouple=Thermocouple(make_driver, averaging, mains_hz, uptime),
        debouncer=FaultDebouncer(settings["FAULT_DEBOUNCE"]),
        flame=FlameSensor(
            analogio.AnalogIn(board_module.FLAME_ADC),
            board_module.ADC_VOLTS_PER_COUNT,
            settings["FLAME_DIVIDER_RATIO"],
            settings["FLAME_OFFSET_V"],
            settings["FLAME_OVERSAMPLE"],
        ),
        buffer=buffer,
        link=link,
        clock=WallClock(
            uptime=uptime,
            server=ntp_server,
            port=settings["NTP_PORT"],
            timeout_s=SOCKET_TIMEOUT_S,
            resync_ms=settings["NTP_RESYNC_S"] * 1000,
            console=console,
        ),
        health=Health(),
        led=led,
        mem_free=app.live_heap,
        sleep=sleep,
    )


def load_board_module(board_id: str) -> "Any":
    """The module ``boards.<board_id>``: pins and numbers for this board."""
    name = "boards." + board_id
    __import__(name)
    return sys.modules[name]


def start(
    uptime: "Uptime", console: "Console", record: "BootRecord", reset_reason: "Optional[str]"
) -> "Node":
    """The node, composed, with the watchdog armed: ``app`` runs it."""
    import board
    import microcontroller
    import os
    import supervisor
    import time
    import watchdog

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
        record.number,
        "reset_cause",
        record.cause,
        "safe_mode_reason",
        record.safe_mode,
    )
    dog = microcontroller.watchdog
    if dog is None:
        raise RuntimeError("board %s has no watchdog; it is not supported" % board_id)
    if not record.counted:
        app.hold(record.start_hold_s(), dog, console)
        record.count()
    try:
        board_module = load_board_module(board_id)
    except ImportError:
        # Nothing can run without pins; resetting would only loop. Wait for new files.
        console.error("board_unsupported", "board", board_id, "fix", "add boards/%s.py" % board_id)
        while True:
            time.sleep(60)
    led = _make_led(board_module)
    led.show(CONNECTING, uptime.ms())
    # Not armed yet: the feeds are no-ops, unless a soft reload left it running.
    settings, buffer = wait_for_settings(
        getenv=os.getenv,
        board_module=board_module,
        console=console,
        led=led,
        feed=dog.feed,
        uptime=uptime,
        sleep=time.sleep,
    )
    supervisor.runtime.autoreload = not settings["PRODUCTION"]
    birth = birth_payload(
        boot=record.number,
        board_id=board_id,
        reset_reason=reset_reason,
        safe_mode_reason=record.safe_mode,
        reset_cause=record.cause,
        sample_period_s=settings["SAMPLE_PERIOD_S"],
    )
    sleep = app.settling_sleep(time.sleep, record, uptime)
    node = _compose(
        settings=settings,
        buffer=buffer,
        board_module=board_module,
        birth=birth,
        record=record,
        dog=dog,
        uptime=uptime,
        console=console,
        led=led,
        sleep=sleep,
    )
    # Armed once, with its final timeout: espressif raises espidf.IDFError when the timeout
    # of a running watchdog changes. Disarming first makes that hold after a soft reload too.
    dog.mode = None
    dog.timeout = settings["WATCHDOG_S"]
    dog.mode = watchdog.WatchDogMode.RESET
    return node
