"""``sensor-bridge virtual-board --drive DIR [--pty-link PATH]``: a CIRCUITPY tree running on
the virtual board, its USB console on a pseudo-terminal."""

from __future__ import annotations

from pathlib import Path

import click

from sensor_bridge.errors import BridgeError

STOP_GRACE_S = 5.0


@click.command("virtual-board")
@click.option(
    "--drive",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The CIRCUITPY tree to run, in the bundle's source form: `hatch run bundle -- BOARD "
    "DIR --source` (a board's drive holds .mpy files, which CPython cannot run).",
)
@click.option(
    "--pty-link",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also make PATH a symlink to the console's pty (a stable name, like /dev/ttyACM0).",
)
@click.option("--board", help="Board id (default: the one board module on the drive).")
@click.option(
    "--control",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Serve the virtual board's control socket at PATH (status, net, fault, reset, ...).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Virtual seconds per real second.",
)
def virtual_board(
    drive: Path, pty_link: Path | None, board: str | None, control: Path | None, speed: float
) -> None:
    """Run the drive's code.py on the virtual board, with its console on a pty.

    Prints the pty's path (e.g. /dev/pts/3): open it with a terminal program, `sensor-bridge
    console --port`, or the HIL suite (`hatch run hil -- --port PATH`). The console behaves as
    CircuitPython's: the program's output, Ctrl-C stops it (then any key enters the REPL),
    Ctrl-D reloads, and the raw REPL works. The REPL runs CPython with the board's emulated
    modules, not MicroPython. The board's own messages (VIRTUAL ...) go to standard error.
    The board runs until this command is stopped (Ctrl-C, SIGTERM).
    """
    import os
    import signal
    import subprocess
    import sys
    import tty

    master, slave = os.openpty()
    # No echo, no line editing, no signals from keys: the board sees every byte as sent.
    tty.setraw(slave)
    path = os.ttyname(slave)
    if pty_link is not None:
        _link(pty_link, path)
    command = [sys.executable, "-m", "sensor_bridge.virtual", "--drive", str(drive.resolve())]
    command += ["--console-fd", str(master), "--speed", repr(speed)]
    if board is not None:
        command += ["--board", board]
    if control is not None:
        command += ["--control", str(control.resolve())]
    click.echo(path)
    click.echo(
        f"virtual board console on {path}" + (f" ({pty_link})" if pty_link else ""), err=True
    )
    # Its own session: a Ctrl-C typed here stops this command, not the program on the board.
    child = subprocess.Popen(
        command, pass_fds=(master,), stdin=subprocess.DEVNULL, start_new_session=True
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
        if pty_link is not None and pty_link.is_symlink() and os.readlink(pty_link) == path:
            pty_link.unlink()
        # The slave stays open until here so that the pty lives while no one has it open.
        os.close(slave)
        os.close(master)
    if code not in (0, -signal.SIGTERM):
        raise SystemExit(code if code > 0 else 128 - code)


def _link(link: Path, target: str) -> None:
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise BridgeError(f"{link} exists and is not a symlink: choose another --pty-link")
    link.symlink_to(target)
