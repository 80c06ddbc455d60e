"""
`sensor_node.app`
================================================================================
``code.py`` calls ``run()``: boot bookkeeping (``persist``), then ``sensor_node.boot``
composes the node and arms the watchdog, then what only boot needed is freed and the node
runs. ``run()`` holds the firmware's one catch-all: anything that escapes is logged with its
traceback, recorded in nvm as the reset cause (within ``persist``'s bound, after its hold)
and answered with ``microcontroller.reset()``. So ``code.py`` never ends normally (which
would disarm the watchdog) and never stops in the REPL.

This module stays loaded while the node runs, so it also makes the callables the node
keeps: a closure keeps the whole module that made it in RAM, and ``boot`` is freed.

CircuitPython-only modules are imported inside the functions that use them, so this
module also imports on CPython.
"""

import sys

from sensor_node import persist
from sensor_node.console import Console
from sensor_node.timing import Uptime

try:
    from typing import Any, Callable, Dict, List, Optional

    from sensor_node.node import Node
    from sensor_node.persist import BootRecord
except ImportError:
    pass

BOOT_ONLY_MODULES = (
    "sensor_node.boot",
    "sensor_node.settings",
    "sensor_protocol.topics",
    "sensor_protocol.limits",
    "boards",
)
"""Modules only boot needs, freed before the node runs (with every ``boards.*``): about
14 kB on a Pico W (docs/firmware-memory.md). Their values live on in what imported them."""


def enum_name(value: "Any") -> "Optional[str]":
    """``"WATCHDOG"`` from ``microcontroller.ResetReason.WATCHDOG`` (and the like)."""
    if value is None:
        return None
    return str(value).split(".")[-1]


def driver_maker(
    *,
    driver_class: "Any",
    spi: "Any",
    chip_select: "Any",
    tc_type: str,
    averaging: int,
    mains_hz: int,
) -> "Callable[[], Any]":
    """What makes a fresh, configured MAX31856 driver (``Thermocouple`` remakes it after a
    timeout)."""

    def make_driver() -> "Any":
        return driver_class(spi, chip_select, tc_type, averaging, mains_hz)

    return make_driver


def close_sockets(pool: "Any", forget: bool) -> None:
    """Close every socket of ``pool``; with ``forget``, drop the pool too."""
    import adafruit_connection_manager

    # Registering first makes a pool no client has used yet closable and forgettable.
    adafruit_connection_manager.get_connection_manager(pool)
    adafruit_connection_manager.connection_manager_close_all(pool, release_references=forget)


def board_resetter(
    record: "BootRecord", uptime: "Uptime", console: "Any"
) -> "Callable[[str], None]":
    """What ``Link`` calls to reset the board (``reset``)."""

    def reset_board(cause: str) -> None:
        reset(record, uptime, console, cause)

    return reset_board


def settling_sleep(
    sleep: "Callable[[float], Any]", record: "BootRecord", uptime: "Uptime"
) -> "Callable[[float], None]":
    """The loop's pause, where a boot that has run an hour clears a crash streak."""

    def settle(seconds: float) -> None:
        sleep(seconds)
        record.settle(uptime.ms())

    return settle


def live_heap() -> int:
    """Free heap after a collection. gc.mem_free() alone counts garbage as used: on a roomy
    heap, where the gc runs only when an allocation fails, it falls between collections (by
    180 kB in 10 s on a Feather ESP32-S3, measured on the VM), and the health reports would
    show a leak that is not there."""
    import gc

    gc.collect()
    return gc.mem_free()  # type: ignore[attr-defined]


def forget_boot_modules(modules: "Dict[str, Any]") -> None:
    """Drop ``BOOT_ONLY_MODULES`` and every ``boards.*`` from ``modules`` (``sys.modules``)
    and from their packages, then collect: a module is freed only once nothing refers to
    it, and its package's attribute does."""
    import gc

    for name in list(modules):
        if name in BOOT_ONLY_MODULES or name.startswith("boards."):
            del modules[name]
            package, _, attribute = name.rpartition(".")
            parent = modules.get(package)
            if parent is not None and hasattr(parent, attribute):
                delattr(parent, attribute)
    gc.collect()


def _boot(
    uptime: "Uptime", console: "Console", record: "BootRecord", reset_reason: "Optional[str]"
) -> "Node":
    """The composed node, with what only boot needed already freed. A function of its own
    so that no frame still holds ``boot`` while the node runs."""
    from sensor_node import boot

    node = boot.start(uptime, console, record, reset_reason)
    del boot
    forget_boot_modules(sys.modules)
    return node


def _traceback_lines(exc: BaseException) -> "List[str]":
    try:
        import traceback

        text = "".join(traceback.format_exception(exc))
    except ImportError:
        text = repr(exc)
    # CircuitPython's traceback module ends each line with \r\n (seen on its VM).
    return [line.rstrip() for line in text.split("\n") if line.strip()]


def run() -> None:
    """Start the node; never returns."""
    import microcontroller
    import supervisor

    uptime = Uptime()
    console = Console(uptime.ms)
    record = None
    try:
        reset_reason = enum_name(microcontroller.cpu.reset_reason)
        run_reason = enum_name(supervisor.runtime.run_reason)
        record = persist.BootRecord(microcontroller.nvm, reset_reason, run_reason)
        _boot(uptime, console, record, reset_reason).run()
    except Exception as exc:  # the catch-all: log, remember, reset
        for line in _traceback_lines(exc):
            console.error("traceback", "line", line)
        reset(record, uptime, console, "crash: %s: %s" % (type(exc).__name__, exc))


def reset(record: "Optional[BootRecord]", uptime: "Uptime", console: "Any", cause: str) -> None:
    """Reset the board for ``cause``: an early reset waits its hold (``persist``), the cause
    goes into nvm within the write bound, then ``microcontroller.reset()``."""
    import microcontroller

    console.error("reset", "cause", cause)
    now = uptime.ms()
    streak = record.streak if record is not None else 1
    if now < persist.LONG_BOOT_MS:
        hold(persist.hold_s(streak), microcontroller.watchdog, console)
    try:
        if record is not None:
            record.reset(uptime.ms(), cause)
    except Exception as nvm_exc:  # a broken nvm must not stop the reset
        console.error("nvm_failed", "reason", repr(nvm_exc))
    microcontroller.reset()


def hold(seconds: int, dog: "Any", console: "Any") -> None:
    """Wait ``seconds`` with the watchdog fed (a no-op while it is not armed)."""
    import time

    if seconds:
        console.warn("hold", "wait_s", seconds)
    for _ in range(seconds):
        dog.feed()
        time.sleep(1)
