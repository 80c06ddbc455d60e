"""Builds the fake CircuitPython modules of one ``VirtualBoard``.

``build_modules`` returns them by name, ready for ``sys.modules``; ``patch_gc`` adds
CircuitPython's ``gc.mem_free``/``gc.mem_alloc`` to the real ``gc``. ``errno`` carries the
port's numbers, ``os.getenv`` reads settings.toml as the board's release line does, and the
espressif boards have ``espidf``.
"""

import gc
import os
import types
from typing import Any, NoReturn, Protocol

from sensor_bridge.virtual.analog import build_analogio
from sensor_bridge.virtual.digital import build_digitalio
from sensor_bridge.virtual.enums import EnumValue, member
from sensor_bridge.virtual.errnos import build_errno
from sensor_bridge.virtual.espidf import build_espidf
from sensor_bridge.virtual.families import ESPRESSIF, release_line
from sensor_bridge.virtual.getenv import on_board, read_settings
from sensor_bridge.virtual.hardware import VirtualBoard
from sensor_bridge.virtual.heap import HeapModel
from sensor_bridge.virtual.leds import build_neopixel_write
from sensor_bridge.virtual.mcu import Processor, ResetReason, RunMode, reset_reason
from sensor_bridge.virtual.pins import Pin
from sensor_bridge.virtual.settings import SettingsFile
from sensor_bridge.virtual.sockets import build_socketpool
from sensor_bridge.virtual.spi import build_busio
from sensor_bridge.virtual.sslmod import build_ssl
from sensor_bridge.virtual.timemod import build_time_module
from sensor_bridge.virtual.wdt import WatchDogMode, WatchDogTimeout, WatchDogTimer
from sensor_bridge.virtual.wifi import build_wifi

CIRCUITPYTHON_VERSION = (10, 0, 3)

_SAFE = "supervisor.SafeModeReason"
_RUN = "supervisor.RunReason"


class SafeModeReason:
    NONE = EnumValue(_SAFE, "NONE")
    BROWNOUT = EnumValue(_SAFE, "BROWNOUT")
    FLASH_WRITE_FAIL = EnumValue(_SAFE, "FLASH_WRITE_FAIL")
    GC_ALLOC_OUTSIDE_VM = EnumValue(_SAFE, "GC_ALLOC_OUTSIDE_VM")
    HARD_FAULT = EnumValue(_SAFE, "HARD_FAULT")
    INTERRUPT_ERROR = EnumValue(_SAFE, "INTERRUPT_ERROR")
    NLR_JUMP_FAIL = EnumValue(_SAFE, "NLR_JUMP_FAIL")
    NO_CIRCUITPY = EnumValue(_SAFE, "NO_CIRCUITPY")
    NO_HEAP = EnumValue(_SAFE, "NO_HEAP")
    PROGRAMMATIC = EnumValue(_SAFE, "PROGRAMMATIC")
    SDK_FATAL_ERROR = EnumValue(_SAFE, "SDK_FATAL_ERROR")
    STACK_OVERFLOW = EnumValue(_SAFE, "STACK_OVERFLOW")
    USB_BOOT_DEVICE_NOT_INTERFACE_ZERO = EnumValue(_SAFE, "USB_BOOT_DEVICE_NOT_INTERFACE_ZERO")
    USB_TOO_MANY_ENDPOINTS = EnumValue(_SAFE, "USB_TOO_MANY_ENDPOINTS")
    USB_TOO_MANY_INTERFACE_NAMES = EnumValue(_SAFE, "USB_TOO_MANY_INTERFACE_NAMES")
    USER = EnumValue(_SAFE, "USER")
    WATCHDOG = EnumValue(_SAFE, "WATCHDOG")


class RunReason:
    STARTUP = EnumValue(_RUN, "STARTUP")
    AUTO_RELOAD = EnumValue(_RUN, "AUTO_RELOAD")
    SUPERVISOR_RELOAD = EnumValue(_RUN, "SUPERVISOR_RELOAD")
    REPL_RELOAD = EnumValue(_RUN, "REPL_RELOAD")


class Reboot(Protocol):
    """Ends this boot and starts the next one (the runner re-executes the process)."""

    def __call__(
        self,
        reset_reason: str,
        *,
        run_reason: str = "STARTUP",
        soft: bool = False,
        next_code_file: str | None = None,
        safe_mode_reason: str | None = None,
    ) -> NoReturn: ...


class Runtime:
    """``supervisor.runtime``."""

    def __init__(self, board: VirtualBoard) -> None:
        self.autoreload = True
        self.safe_mode_reason = member(SafeModeReason, board.boot.safe_mode_reason)
        self.run_reason = member(RunReason, board.boot.run_reason)
        self.usb_connected = True
        self.serial_connected = True
        self.serial_bytes_available = 0
        self.rgb_status_brightness = 255
        self.ble_workflow = False
        self.display = None


class NextRun:
    """What ``set_next_code_file`` and ``on_next_reset`` asked of the next boot."""

    def __init__(self) -> None:
        self.code_file: str | None = None
        self.reload_on_success = False
        self.reload_on_error = False
        self.safe_mode = False


def build_modules(
    board: VirtualBoard, settings: SettingsFile, reboot: Reboot
) -> tuple[dict[str, types.ModuleType], NextRun]:
    next_run = NextRun()
    modules = {
        "os": _os_module(settings),
        "errno": build_errno(),
        "time": build_time_module(board.clock, board.rtc),
        "board": _board_module(board),
        "busio": build_busio(board.wiring, board.claims),
        "digitalio": build_digitalio(board.wiring, board.claims),
        "analogio": build_analogio(board.wiring, board.claims, board.spec.family, board.rng),
        "neopixel_write": build_neopixel_write(board.light),
        "microcontroller": _microcontroller_module(board, reboot, next_run),
        "watchdog": _watchdog_module(),
        "supervisor": _supervisor_module(board, settings, reboot, next_run),
        "rtc": _rtc_module(board),
        "wifi": build_wifi(board.radio),
        "socketpool": build_socketpool(board.net, board.clock, board.family),
        "ssl": build_ssl(),
        "micropython": _micropython_module(),
    }
    if board.family is ESPRESSIF:
        modules["espidf"] = build_espidf()
    return modules, next_run


def patch_gc(heap: HeapModel) -> None:
    """CircuitPython's additions to ``gc``, on the real module (the drive imports that one)."""
    gc.mem_free = heap.mem_free  # type: ignore[attr-defined]
    gc.mem_alloc = heap.mem_alloc  # type: ignore[attr-defined]


def _os_module(settings: SettingsFile) -> types.ModuleType:
    """The host's ``os`` (the standard library imported later shares it) with CircuitPython's
    ``getenv``: settings.toml read again on every call, parsed as the board's release line
    parses it (``families.release_line(CIRCUITPYTHON_VERSION)``)."""
    line = release_line(CIRCUITPYTHON_VERSION)

    def getenv(key: str, default: object = None) -> object:
        return on_board(read_settings(settings.path), key, default, line)

    module = types.ModuleType("os", os.__doc__)
    module.__dict__.update(vars(os), getenv=getenv)
    return module


def _module(name: str, doc: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name, doc)
    module.__dict__.update(attributes)
    return module


def _board_module(board: VirtualBoard) -> types.ModuleType:
    pins: dict[str, Pin] = dict(board.spec.pins)
    spi_bus: list[Any] = []

    def spi() -> Any:
        """The board's default SPI bus (a singleton), on SCK/MOSI/MISO."""
        if not spi_bus:
            busio = build_busio(board.wiring, board.claims)
            spi_bus.append(busio.SPI(pins["SCK"], pins.get("MOSI"), pins.get("MISO")))
        return spi_bus[0]

    extras: dict[str, Any] = {"SPI": spi} if "SCK" in pins else {}
    return _module("board", "Board pins.", board_id=board.spec.board_id, **pins, **extras)


def _microcontroller_module(
    board: VirtualBoard, reboot: Reboot, next_run: NextRun
) -> types.ModuleType:
    cpu = Processor(
        frequency=board.spec.cpu_hz,
        reset_reason=reset_reason(board.boot.reset_reason),
        ambient_c=board.cold_junction_c,
        rng=board.rng,
    )

    def reset() -> NoReturn:
        """Reset the MCU; never returns. The next boot reads reset_reason SOFTWARE."""
        reboot("SOFTWARE", safe_mode_reason="PROGRAMMATIC" if next_run.safe_mode else None)

    def on_next_reset(run_mode: EnumValue) -> None:
        if run_mode not in (RunMode.NORMAL, RunMode.SAFE_MODE):
            raise NotImplementedError("the virtual board has no bootloader")
        next_run.safe_mode = run_mode is RunMode.SAFE_MODE

    def delay_us(delay: int) -> None:
        board.clock.sleep(delay / 1_000_000)

    def no_op() -> None:
        """Interrupts are not emulated."""

    return _module(
        "microcontroller",
        "Pin references and cpu functionality (virtual board).",
        cpu=cpu,
        cpus=cpu,
        nvm=board.nvm,
        watchdog=board.wdt,
        reset=reset,
        on_next_reset=on_next_reset,
        delay_us=delay_us,
        disable_interrupts=no_op,
        enable_interrupts=no_op,
        Pin=Pin,
        Processor=Processor,
        ResetReason=ResetReason,
        RunMode=RunMode,
        pin=types.SimpleNamespace(**board.spec.pins),
    )


def _watchdog_module() -> types.ModuleType:
    return _module(
        "watchdog",
        "Watchdog timer (virtual board).",
        WatchDogMode=WatchDogMode,
        WatchDogTimeout=WatchDogTimeout,
        WatchDogTimer=WatchDogTimer,
    )


def _supervisor_module(
    board: VirtualBoard, settings: SettingsFile, reboot: Reboot, next_run: NextRun
) -> types.ModuleType:
    runtime = Runtime(board)

    def reload() -> NoReturn:
        """Soft reload: run the program again; the reset reason stays what it was."""
        reboot(
            board.boot.reset_reason,
            run_reason="SUPERVISOR_RELOAD",
            soft=True,
            next_code_file=next_run.code_file,
        )

    def get_previous_traceback() -> str | None:
        return board.boot.previous_traceback

    def set_next_code_file(
        filename: str | None,
        *,
        working_directory: str | None = None,
        reload_on_success: bool = False,
        reload_on_error: bool = False,
        sticky_on_success: bool = False,
        sticky_on_error: bool = False,
        sticky_on_reload: bool = False,
    ) -> None:
        next_run.code_file = filename
        next_run.reload_on_success = reload_on_success
        next_run.reload_on_error = reload_on_error

    def get_setting(key: str, default: object = None) -> object:
        return settings.get(key, default)

    def no_op(*args: object, **kwargs: object) -> None:
        """Not emulated: only matters for USB and displays."""

    return _module(
        "supervisor",
        "Supervisor settings (virtual board).",
        runtime=runtime,
        ticks_ms=board.clock.ticks_ms,
        reload=reload,
        get_previous_traceback=get_previous_traceback,
        set_next_code_file=set_next_code_file,
        get_setting=get_setting,
        set_usb_identification=no_op,
        reset_terminal=no_op,
        RunReason=RunReason,
        SafeModeReason=SafeModeReason,
        Runtime=Runtime,
    )


def _rtc_module(board: VirtualBoard) -> types.ModuleType:
    time_module = build_time_module(board.clock, board.rtc)

    class RTC:
        """The board's real-time clock (a singleton); ``time.time()`` follows it."""

        _instance: "RTC | None" = None

        def __new__(cls) -> "RTC":
            if cls._instance is None:
                cls._instance = super().__new__(cls)
                cls._instance.calibration = 0
            return cls._instance

        calibration: int

        @property
        def datetime(self) -> Any:
            return time_module.localtime()

        @datetime.setter
        def datetime(self, value: Any) -> None:
            board.rtc.set(time_module.mktime(value))

    def set_time_source(rtc: Any) -> None:
        """Only the board's own RTC exists here."""

    return _module(
        "rtc", "Real Time Clock (virtual board).", RTC=RTC, set_time_source=set_time_source
    )


def _micropython_module() -> types.ModuleType:
    def const(value: Any) -> Any:
        return value

    def passthrough(function: Any) -> Any:
        return function

    def nothing(*args: object) -> None:
        """No equivalent on CPython."""

    return _module(
        "micropython",
        "MicroPython internals (virtual board).",
        const=const,
        native=passthrough,
        viper=passthrough,
        asm_thumb=passthrough,
        opt_level=lambda level=None: 0,
        mem_info=nothing,
        qstr_info=nothing,
        stack_use=lambda: 0,
        heap_lock=nothing,
        heap_unlock=nothing,
        kbd_intr=nothing,
        schedule=lambda function, arg: function(arg),
    )
