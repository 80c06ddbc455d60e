"""``sensor-bridge bundle BOARD DIR``: the CIRCUITPY tree for one board."""

from __future__ import annotations

from pathlib import Path

import click

from sensor_bridge.errors import BridgeError


@click.command()
@click.argument("board_id", metavar="BOARD")
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--circuitpython",
    metavar="VERSION",
    help="The board's CircuitPython (e.g. 10.1.0), for a directory without boot_out.txt.",
)
@click.option("--source", is_flag=True, help="Write lib/ as .py: the tree the virtual board runs.")
def bundle(board_id: str, out_dir: Path, circuitpython: str | None, source: bool) -> None:
    """Write the CIRCUITPY tree for BOARD (its board.board_id) into DIR, e.g. the mounted
    drive: code.py, safemode.py, settings.toml.example, and lib/ with the firmware, the
    board's module and every Adafruit library the firmware imports.

    lib/ is .mpy for the CircuitPython release line the drive's boot_out.txt names (10.x),
    compiled by the mpy-cross the tests ran. Each module written replaces its older copies;
    settings.toml and anything else on the drive is left alone. Works offline.
    """
    from sensor_bridge import bundle as trees

    if circuitpython is not None and source:
        raise click.UsageError("--circuitpython and --source exclude each other: give one")
    line = trees.requested_line(board_id, out_dir, circuitpython, source)
    try:
        written = trees.write(board_id, out_dir, line)
    except OSError as error:
        raise BridgeError(
            f"cannot write {error.filename or out_dir}: {error.strerror or error}: check that "
            "the drive is mounted, writable and has room"
        ) from None
    except SyntaxError as error:
        # A module of the firmware (or a library) that the import scan cannot parse.
        raise BridgeError(
            f"{error.filename}:{error.lineno}: {error.msg}: fix it, then bundle again"
        ) from None
    for dest in written:
        click.echo(f"wrote {out_dir / dest}")
    click.echo(f"{len(written)} files for {board_id} in {out_dir}")
