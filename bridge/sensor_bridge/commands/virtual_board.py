"""``sensor-bridge virtual-board --drive DIR``: a CIRCUITPY tree running on the virtual board,
its USB console on a pseudo-terminal (or on standard output).

The board itself is a process of its own (``python -m sensor_bridge.virtual``, which
re-executes itself on every reset): this command starts it with the same options, holds the
pty across its resets, and stops it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tty
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from sensor_bridge.commands import exit_status, given_options
from sensor_bridge.errors import BridgeError
from sensor_bridge.virtual.options import board_options, check

STOP_GRACE_S = 5.0


@click.command("virtual-board")
@board_options
@click.option(
    "--stdout",
    "on_stdout",
    is_flag=True,
    help="The console on standard output instead of a pty: the program's output, no keys to "
    "the board.",
)
@click.option(
    "--pty-link",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also make PATH a symlink to the console's pty (a stable name, like /dev/ttyACM0).",
)
@click.pass_context
def virtual_board(ctx: click.Context, on_stdout: bool, pty_link: Path | None, **board: Any) -> None:
    """Run the drive's code.py on the virtual board: the real firmware on emulated hardware
    (a register-level MAX31856, an ADC fed by a furnace model, Wi-Fi and sockets over real
    sockets, watchdog, nvm, NeoPixel, a clock that can run faster than real time).

    Prints the pty's path (e.g. /dev/pts/3): open it with a terminal program, `sensor-bridge
    console --port`, or the HIL suite (`hatch run hil -- --port PATH`). The console behaves as
    CircuitPython's: the program's output, Ctrl-C stops it (then any key enters the REPL),
    Ctrl-D reloads, and the raw REPL works. With --engine vm the REPL runs on CircuitPython's
    VM with the board's heap; with the cpython engine it runs CPython with the board's
    emulated modules. With --stdout the program's output comes here instead.

    The board's own messages (VIRTUAL ...) go to standard error. It runs until this command
    is stopped (Ctrl-C, SIGTERM).
    """
    check(board)
    if on_stdout and pty_link is not None:
        raise click.UsageError("--pty-link names the pty, and --stdout has none: give one")
    command = [sys.executable, "-m", "sensor_bridge.virtual", *given_options(ctx, board)]
    if on_stdout:
        code = _run(command, ())
    else:
        with _pty(pty_link) as (master, path):
            click.echo(path)
            shown = f"{path} ({pty_link})" if pty_link else path
            click.echo(f"virtual board console on {shown}", err=True)
            code = _run([*command, "--console-fd", str(master)], (master,))
    if code != 0:
        raise SystemExit(exit_status(code))


@contextlib.contextmanager
def _pty(link: Path | None) -> Iterator[tuple[int, str]]:
    """A raw pseudo-terminal: its master side and the slave's path (linked from ``link``)."""
    master, slave = os.openpty()
    # No echo, no line editing, no signals from keys: the board sees every byte as sent.
    tty.setraw(slave)
    path = os.ttyname(slave)
    try:
        if link is not None:
            _link(link, path)
        yield master, path
    finally:
        if link is not None and link.is_symlink() and os.readlink(link) == path:
            link.unlink()
        # The slave stays open until here so that the pty lives while no one has it open.
        os.close(slave)
        os.close(master)


def _run(command: Sequence[str], pass_fds: Sequence[int]) -> int:
    """Run the board until it ends or this command is stopped; its exit status (0 when it
    was stopped from here)."""
    # Its own session: a Ctrl-C typed here stops this command, not the program on the board.
    child = subprocess.Popen(
        command, pass_fds=pass_fds, stdin=subprocess.DEVNULL, start_new_session=True
    )

    def stop(signum: int, frame: object) -> None:
        child.terminate()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        code = child.wait()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return 0 if code == -signal.SIGTERM else code


def _link(link: Path, target: str) -> None:
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise BridgeError(f"{link} exists and is not a symlink: choose another --pty-link")
    link.symlink_to(target)
