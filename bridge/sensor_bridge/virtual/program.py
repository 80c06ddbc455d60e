"""Running the drive's program and reporting its end as CircuitPython's console does."""

import os
import traceback
from pathlib import Path

from sensor_bridge.virtual.hardware import BootInfo
from sensor_bridge.virtual.loader import run_main


def program_file(boot: BootInfo) -> str | None:
    """What this boot runs: safemode.py in safe mode (none in USER safe mode), else the
    file ``supervisor.set_next_code_file`` chose for a reload, else code.py."""
    if boot.safe_mode_reason != "NONE":
        return None if boot.safe_mode_reason == "USER" else "safemode.py"
    return boot.next_code_file or "code.py"


def run_program(drive: Path, boot: BootInfo) -> tuple[bool, str | None]:
    """Run the program from the drive's root: (ran, traceback text if it crashed)."""
    filename = program_file(boot)
    os.chdir(drive)
    if filename is None or not (drive / filename).exists():
        if boot.safe_mode_reason != "NONE":
            print("Running in safe mode! Not running saved code.")
        return False, None
    print(f"{filename} output:")
    try:
        run_main(filename)
    except SystemExit:
        pass
    except BaseException as exc:
        text = board_traceback(exc, filename, drive)
        print(text, end="")
        return True, text
    return True, None


def board_traceback(exc: BaseException, filename: str, drive: Path) -> str:
    """The traceback as CircuitPython prints it: from the program's frame on, no source
    lines, drive paths from ``/``, the bare exception class name."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    lines = ["Traceback (most recent call last):"]
    for frame in traceback.extract_tb(tb or exc.__traceback__):
        path = Path(frame.filename)
        shown = "/" + str(path.relative_to(drive)) if path.is_relative_to(drive) else frame.filename
        lines.append(f'  File "{shown}", line {frame.lineno}, in {frame.name}')
    message = str(exc)
    lines.append(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
    return "\n".join(lines) + "\n"
