"""The virtual board's options, written once. The board process (``python -m
sensor_bridge.virtual``: started by ``sensor-bridge virtual-board``, by
``launcher.VirtualBoardProcess`` for the tests and the demo, and by itself on every reset)
parses them; ``sensor-bridge virtual-board`` takes the same ones and hands them on.

Only click here: ``sensor-bridge --help`` imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])

ENGINES = ("cpython", "vm")


def _safe_mode_reason(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from sensor_bridge.virtual.enums import member
    from sensor_bridge.virtual.modules import SafeModeReason

    if value is not None:
        try:
            member(SafeModeReason, value)
        except KeyError:
            raise click.BadParameter(
                f"unknown SafeModeReason {value!r}: give one of supervisor.SafeModeReason's "
                "names, e.g. BROWNOUT"
            ) from None
    return value


_OPTIONS = (
    click.option(
        "--drive",
        required=True,
        metavar="DIR",
        type=click.Path(exists=True, file_okay=False, resolve_path=True, path_type=Path),
        help="The CIRCUITPY tree to run, as `sensor-bridge bundle BOARD DIR` writes it: with "
        "--source for the cpython engine (CPython cannot run .mpy files), as for the board for "
        "--engine vm.",
    ),
    click.option(
        "--board",
        metavar="ID",
        help="Board id. Default: the one board module in DRIVE/lib/boards/.",
    ),
    click.option(
        "--engine",
        type=click.Choice(ENGINES),
        default="cpython",
        show_default=True,
        help="cpython: the program on this interpreter with emulated modules (fast, any "
        "--speed); vm: the program on CircuitPython's own VM with the board's heap, in real "
        "time.",
    ),
    click.option(
        "--free-heap",
        type=click.IntRange(min=1),
        metavar="BYTES",
        help="vm engine: gc.mem_free() at the start of code.py. Default: the board's figure.",
    ),
    click.option(
        "--speed",
        type=click.FloatRange(min=0, min_open=True),
        default=1.0,
        show_default=True,
        metavar="X",
        help="Virtual seconds per real second.",
    ),
    click.option(
        "--control",
        metavar="PATH",
        type=click.Path(dir_okay=False, resolve_path=True, path_type=Path),
        help="Serve the control socket at PATH (JSON lines: status, net, fault, furnace, "
        "speed, reset, kill).",
    ),
    click.option(
        "--scenario",
        type=click.Path(exists=True, dir_okay=False, resolve_path=True, path_type=Path),
        help="A JSON file: a list of {at_s, cmd, ...} control commands to play.",
    ),
    click.option(
        "--watchdog",
        type=click.Choice(["fail", "reset"]),
        default="reset",
        show_default=True,
        help="When the watchdog expires: reset the board (as the hardware does) or end the "
        "run with a failure.",
    ),
    click.option(
        "--seed",
        type=int,
        metavar="N",
        default=1,
        show_default=True,
        help="Seed of the furnace and noise.",
    ),
    click.option(
        "--epoch",
        type=float,
        metavar="SECONDS",
        help="The wall clock at power-on, in Unix seconds. Default: now.",
    ),
    click.option("--no-ntp", is_flag=True, help="Start with NTP not answering."),
    click.option(
        "--safe-mode",
        metavar="REASON",
        callback=_safe_mode_reason,
        help="Boot once in safe mode (safemode.py runs), e.g. BROWNOUT.",
    ),
    click.option(
        "--state-dir",
        metavar="DIR",
        type=click.Path(file_okay=False, resolve_path=True, path_type=Path),
        help="Where nvm and the run state are kept. Default: DRIVE/.virtual.",
    ),
    click.option(
        "--trace-allocations",
        is_flag=True,
        help="Measure allocations per loop iteration (tracemalloc; slows the run).",
    ),
)


def board_options(command: F) -> F:
    """Every option of the board process, on ``command``."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def check(options: Mapping[str, Any]) -> None:
    """Refuse options that do not go together, naming the fix (click.UsageError)."""
    if options["engine"] == "vm":
        for refused, why in (
            (options["speed"] != 1, "--speed: the vm engine runs in real time; leave --speed at 1"),
            (
                options["trace_allocations"],
                "--trace-allocations: the vm engine has the VM's own gc",
            ),
        ):
            if refused:
                raise click.UsageError(f"{why} (or use --engine cpython)")
    elif options["free_heap"] is not None:
        raise click.UsageError("--free-heap sizes the vm engine's heap: add --engine vm")
