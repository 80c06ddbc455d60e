"""Write the CIRCUITPY tree for one board (``sensor-bridge bundle BOARD DIR``).

Works offline, from this checkout, the installed packages and CircuitPython's own ``mpy-cross``
(``sensor_bridge.circuitpython_tools``).

``lib/`` gets ``.mpy`` files: compiled on the host, a module loads as bytecode, without the
parse tree and compiler state that compiling it on the board needs during the import (more
heap than a Pico W has: docs/benchmarks.md). ``.mpy`` is a format per CircuitPython release
line, so ``lib/`` is compiled for the line the drive's ``boot_out.txt`` names, by the
``mpy-cross`` of that line that the tests ran; any other line is refused. ``code.py`` and
``safemode.py`` stay ``.py``: the supervisor runs only those names (main.c:
supported_filenames, safemode_py_filenames). The Adafruit libraries are compiled with
``-O3``, which leaves out their line-number tables (1.3 kB more free heap on a Pico W,
docs/firmware-memory.md); the firmware's own modules keep theirs, so a traceback on the
console or in a recorded crash still names the firmware's line. ``--source`` writes ``.py``
everywhere, for the virtual board that runs the tree on CPython.

The device libraries are not listed anywhere: the firmware's imports are scanned (then the
libraries' own imports), and each module that is neither a CircuitPython built-in nor part of
the firmware must come from an installed ``adafruit-circuitpython-*`` distribution, so a new
import cannot be left behind.

Imports inside a ``try`` that handles ImportError, or under a test of ``sys.implementation``
or ``sys.platform``, are optional: the code runs without them on a board (typing, fallbacks,
other platforms), so they are not bundled.
"""

import ast
import functools
import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import sensor_protocol
from sensor_bridge import circuitpython_tools
from sensor_bridge.errors import BridgeError

CIRCUITPYTHON_BUILTINS = frozenset(
    {
        # core language modules
        "array", "binascii", "builtins", "collections", "errno", "gc", "hashlib", "io",
        "json", "math", "micropython", "os", "random", "re", "select", "ssl", "struct",
        "sys", "time", "traceback", "warnings", "zlib",
        # hardware and networking
        "analogio", "board", "busio", "digitalio", "ipaddress", "microcontroller",
        "neopixel_write", "nvm", "rtc", "socketpool", "storage", "supervisor", "watchdog",
        "wifi",
    }
)  # fmt: skip
"""Modules built into CircuitPython on every supported board (the tests check this against
each board's definition in circuitpython-stubs). ``adafruit_bus_device`` and
``adafruit_pixelbuf`` are built in too, yet deliberately absent: the bundle carries their
library copies so the virtual board, which runs the same tree on CPython, has them."""

LIBRARY_DISTRIBUTION_PREFIX = "adafruit-circuitpython-"

_BOARDS_PACKAGE = "boards"
_PACKAGED_TREE = "sensor_firmware"
"""Where the wheel puts the listed firmware and board files (hatch_build.py)."""
_TOP_LEVEL_FILES = ("code.py", "safemode.py", "settings.toml.example")
BOOT_OUT = "boot_out.txt"


class MpyLine(NamedTuple):
    """A CircuitPython release line whose ``.mpy`` format a tested ``mpy-cross`` writes."""

    name: str
    major: int
    mpy_cross: str
    """The ``mpy-cross`` release the tests ran, the only one the bundle compiles with."""


MPY_LINES = (MpyLine("10.x", 10, "10.1.0"),)
"""Every 10.x release reads .mpy version 6 (py/persistentcode.h: MPY_VERSION 6, sub-version 3
from 10.0.0 to 10.2.0); 9.x reads 6.1 (9.0, 9.1) or 6.3 and has its own bundle line, and
nothing here has been run on it."""

SOURCE = None
"""The form argument for ``.py`` everywhere (the CPython virtual board runs the source)."""


class BundleError(BridgeError):
    """The tree cannot be written, or is refused (an unknown board, a drive of another board,
    a release line without tested .mpy files); the message says what and how to fix it."""


@dataclass(frozen=True)
class BootOut:
    """What a CIRCUITPY drive's ``boot_out.txt`` says about the board."""

    version: str | None
    """``"CircuitPython 10.1.0"`` (with any suffix such as ``-rc.1``)."""
    release: str | None
    """``"10.1.0"`` (with its suffix)."""
    major: int | None
    board_id: str | None


_VERSION = re.compile(r"CircuitPython ((\d+)\.\d+\.\d+\S*)")
_BOARD_ID = re.compile(r"^Board ID:\s*(\S+)\s*$", re.MULTILINE)


def parse_boot_out(text: str) -> BootOut:
    """CircuitPython writes its version line ("Adafruit CircuitPython 10.1.0 on 2025-...;
    Raspberry Pi Pico W with rp2040"), then ``Board ID:<board.board_id>`` (main.c)."""
    version = _VERSION.search(text)
    board = _BOARD_ID.search(text)
    return BootOut(
        version=version.group(0) if version else None,
        release=version.group(1) if version else None,
        major=int(version.group(2)) if version else None,
        board_id=board.group(1) if board else None,
    )


def read_boot_out(drive: Path) -> BootOut | None:
    """The drive's ``boot_out.txt``, or None when it has none (a plain directory)."""
    try:
        text = (drive / BOOT_OUT).read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return None
    return parse_boot_out(text)


def _supported_lines() -> str:
    return ", ".join(f"{line.name} (mpy-cross {line.mpy_cross})" for line in MPY_LINES)


def mpy_line(release: str, origin: str) -> MpyLine:
    """The release line of CircuitPython ``release`` ("10.1.0"), which ``origin`` names;
    BundleError for a line without a tested mpy-cross."""
    match = re.fullmatch(r"(\d+)\.\d+(\.\d+)?\S*", release)
    if match is None:
        raise BundleError(
            f"{origin}: {release!r} is not a CircuitPython version: give one like 10.1.0"
        )
    for line in MPY_LINES:
        if line.major == int(match.group(1)):
            return line
    raise BundleError(
        f"{origin}: CircuitPython {release}: no tested .mpy format for its release line; "
        f"supported: {_supported_lines()}: install CircuitPython {MPY_LINES[-1].name} on the "
        "board first (circuitpython.org/downloads)"
    )


def release_line(boot: BootOut | None, circuitpython: str | None, drive: Path) -> MpyLine:
    """The release line to compile for: the one ``boot_out.txt`` names, else the explicit
    ``circuitpython`` version (for a directory without one); both must agree when given."""
    where = drive / BOOT_OUT
    if boot is not None and boot.release is not None:
        line = mpy_line(boot.release, str(where))
        if circuitpython is not None and mpy_line(circuitpython, "--circuitpython") != line:
            raise BundleError(
                f"{where} says CircuitPython {boot.release}, --circuitpython says "
                f"{circuitpython}: leave out --circuitpython for a board's drive"
            )
        return line
    if circuitpython is not None:
        return mpy_line(circuitpython, "--circuitpython")
    found = "names no CircuitPython version" if boot is not None else "does not exist"
    raise BundleError(
        f"{where} {found}, so the .mpy format is unknown: mount the board's CIRCUITPY drive, "
        "or pass --circuitpython VERSION (the board's, e.g. 10.1.0), or --source for the "
        "virtual board"
    )


def check_board(boot: BootOut, board_id: str, drive: Path) -> None:
    """Refuse a drive whose ``boot_out.txt`` names another board than ``board_id``."""
    if boot.board_id is not None and boot.board_id != board_id:
        raise BundleError(
            f"{drive / BOOT_OUT} says board {boot.board_id}, not {board_id}: plug in the "
            f"{board_id}, or bundle for {boot.board_id}"
        )


def firmware_dir() -> Path:
    """The ``firmware/`` tree: the checkout's (the one ``sensor_protocol`` is loaded from), else
    the copy an installed wheel carries (``sensor_firmware/``, beside the packages)."""
    checkout = Path(sensor_protocol.__file__).resolve().parents[2]
    if checkout.name == "firmware" and (checkout / "lib" / "sensor_protocol").is_dir():
        return checkout
    packaged = Path(__file__).resolve().parents[1] / _PACKAGED_TREE / "firmware"
    if (packaged / "lib" / "sensor_protocol").is_dir():
        return packaged
    raise BundleError(
        f"no firmware tree beside {checkout} or in {packaged.parent}: run from the repository's "
        "hatch environment or an installed sensor-pipeline wheel"
    )


def boards_dir() -> Path:
    return firmware_dir().parent / _BOARDS_PACKAGE


def supported_boards() -> list[str]:
    """Board ids that have a module in ``boards/``, sorted."""
    return sorted(p.stem for p in boards_dir().glob("*.py") if p.stem != "__init__")


def handles_import_error(node: ast.Try) -> bool:
    """Whether ``node`` catches ImportError: what it imports is then optional."""
    for handler in node.handlers:
        caught = handler.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        for name in names:
            if name is None or (
                isinstance(name, ast.Name) and name.id in ("ImportError", "ModuleNotFoundError")
            ):
                return True
    return False


def tests_platform(node: ast.If) -> bool:
    """Whether ``node`` branches on ``sys.implementation`` or ``sys.platform``: what it
    imports serves one platform and is optional on the others."""
    return any(
        isinstance(part, ast.Attribute)
        and part.attr in ("implementation", "platform")
        and isinstance(part.value, ast.Name)
        and part.value.id == "sys"
        for part in ast.walk(node.test)
    )


def _walk_imports(
    nodes: list[ast.stmt], optional: bool, module_level: bool
) -> Iterator[tuple[str, bool]]:
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], optional
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                yield node.module.split(".")[0], optional
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and module_level:
            continue
        elif isinstance(node, ast.Try):
            inner = optional or handles_import_error(node)
            blocks = [node.body, node.orelse, node.finalbody] + [h.body for h in node.handlers]
            for block in blocks:
                yield from _walk_imports(block, inner, module_level)
        elif isinstance(node, ast.If) and tests_platform(node):
            yield from _walk_imports(node.body + node.orelse, True, module_level)
        else:
            children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
            yield from _walk_imports(children, optional, module_level)


def scan_imports(path: Path, module_level: bool = False) -> tuple[set[str], set[str]]:
    """Top-level module names ``path`` imports: ``(required, optional)``.

    Relative imports are left out (they stay inside a package). With ``module_level``,
    imports inside functions are left out: a library's function-level imports serve other
    platforms (CPython, co-processor Wi-Fi) and are not needed on a board.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    required: set[str] = set()
    optional: set[str] = set()
    for name, is_optional in _walk_imports(tree.body, False, module_level):
        (optional if is_optional else required).add(name)
    return required, optional - required


def _python_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)


@functools.cache
def installed_libraries() -> frozenset[str]:
    """Top-level modules of the installed ``adafruit-circuitpython-*`` distributions (read
    once: scanning every installed distribution takes ~50 ms)."""
    return frozenset(
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if any(d.lower().replace("_", "-").startswith(LIBRARY_DISTRIBUTION_PREFIX) for d in dists)
    )


def _library_source(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise BundleError(f"library {name} is installed but has no source file")
    origin = Path(spec.origin)
    if origin.suffix != ".py":
        raise BundleError(f"library {name} is not pure Python ({origin})")
    return origin.parent if spec.submodule_search_locations else origin


def _first_party(firmware: Path, board_id: str) -> list[tuple[Path, Path]]:
    """``(source, destination relative to OUT)`` for the firmware's own files."""
    files = []
    for name in _TOP_LEVEL_FILES:
        source = firmware / name
        if not source.is_file():
            raise BundleError(f"{source} is missing")
        files.append((source, Path(name)))
    lib = firmware / "lib"
    for source in sorted(lib.iterdir()):
        if source.suffix == ".py" or (source / "__init__.py").is_file():
            for path in _python_files(source):
                files.append((path, Path("lib") / path.relative_to(lib)))
    boards = boards_dir()
    for path in (boards / "__init__.py", boards / (board_id + ".py")):
        files.append((path, Path("lib", _BOARDS_PACKAGE, path.name)))
    return files


def check_board_id(board_id: str) -> None:
    supported = supported_boards()
    if board_id not in supported:
        raise BundleError(f"unknown board {board_id!r}; supported: {', '.join(supported)}")


def plan(board_id: str) -> list[tuple[Path, Path]]:
    """Every source file of the tree for ``board_id`` as ``(source, destination relative to
    OUT)``, all ``.py``: ``build`` compiles ``lib/``."""
    check_board_id(board_id)
    firmware = firmware_dir()
    files = _first_party(firmware, board_id)
    own = {dest.parts[1].removesuffix(".py") for _, dest in files if len(dest.parts) > 1}
    libraries = installed_libraries()

    bundled: set[str] = set()
    pending = [(source, False) for source, _ in files if source.suffix == ".py"]
    while pending:
        source, is_library = pending.pop(0)
        required = scan_imports(source, module_level=is_library)[0]
        for name in sorted(required - CIRCUITPYTHON_BUILTINS - own - bundled):
            if name not in libraries:
                raise BundleError(
                    f"{source} imports {name!r}, which is neither a CircuitPython built-in nor an "
                    f"installed CircuitPython library ({LIBRARY_DISTRIBUTION_PREFIX}*)"
                )
            library = _library_source(name)
            bundled.add(name)
            for path in _python_files(library):
                files.append((path, Path("lib") / path.relative_to(library.parent)))
                pending.append((path, True))
    return files


def checked_mpy_cross(line: MpyLine) -> Path:
    """CircuitPython's mpy-cross, refused unless it is the release ``line`` was tested with."""
    (mpy_cross,) = circuitpython_tools.require(circuitpython_tools.MPY_CROSS)
    version = circuitpython_tools.mpy_cross_version(mpy_cross)
    if version != line.mpy_cross:
        raise BundleError(
            f"{mpy_cross} is mpy-cross {version}; CircuitPython {line.name} .mpy files come from "
            f"the tested mpy-cross {line.mpy_cross}: build that one as "
            f"{circuitpython_tools.DOCS} says"
        )
    return mpy_cross


LIBRARY_OPTIMISATION = "-O3"
"""mpy-cross's level for the Adafruit libraries: 3 drops line numbers (py/emitbc.c)."""


def _compile(
    mpy_cross: Path, source: Path, name: str, scratch: Path, options: tuple[str, ...]
) -> bytes:
    """``source`` as .mpy bytes; ``name`` (the path under ``lib/``, as Adafruit's bundle
    names its files) is the file name tracebacks show."""
    output = scratch / "out.mpy"
    result = subprocess.run(
        [mpy_cross, *options, "-s", name, "-o", output, source],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise BundleError(f"mpy-cross cannot compile {source}: {lines[-1]}")
    return output.read_bytes()


def build(board_id: str, line: MpyLine | None) -> dict[Path, bytes]:
    """The tree for ``board_id``: destination relative to OUT -> contents. ``lib/`` is
    compiled for release ``line``, or left as ``.py`` for ``SOURCE``."""
    files = plan(board_id)
    if line is SOURCE:
        return {dest: source.read_bytes() for source, dest in files}
    mpy_cross = checked_mpy_cross(line)
    own = {dest for _, dest in _first_party(firmware_dir(), board_id)}
    tree = {}
    with tempfile.TemporaryDirectory(prefix="bundle-") as scratch:
        for source, dest in files:
            if dest.parts[0] == "lib" and dest.suffix == ".py":
                name = dest.relative_to("lib").as_posix()
                options = () if dest in own else (LIBRARY_OPTIMISATION,)
                tree[dest.with_suffix(".mpy")] = _compile(
                    mpy_cross, source, name, Path(scratch), options
                )
            else:
                tree[dest] = source.read_bytes()
    return tree


def library_copies(dest: Path) -> list[Path]:
    """What an older tree may hold of the library (module or package) ``dest`` belongs to,
    relative to OUT: its package directory, its ``.py`` and its ``.mpy``. All go before the
    new copy is written: CircuitPython imports ``X.py`` before ``X.mpy``
    (py/builtinimport.c, stat_file_py_or_mpy), so a stale ``.py`` would shadow a new ``.mpy``
    and a stale ``.mpy`` would come back if the ``.py`` were removed."""
    stem = dest.parts[1].removesuffix(".py").removesuffix(".mpy")
    return [Path("lib", stem), Path("lib", stem + ".py"), Path("lib", stem + ".mpy")]


def install(tree: dict[Path, bytes], out: Path) -> list[Path]:
    """Write ``tree`` (from ``build``) into ``out``; returns the files written (relative).

    Each package or module written to ``lib/`` replaces every older copy of it
    (``library_copies``); everything else in ``out``, such as ``settings.toml`` on a real
    board, is left alone.
    """
    old = {copy for dest in tree if len(dest.parts) > 1 for copy in library_copies(dest)}
    for path in sorted(old):
        target = out / path
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for dest, data in tree.items():
        target = out / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return list(tree)


def write(board_id: str, out: Path, line: MpyLine | None) -> list[Path]:
    """Write the tree for ``board_id`` (``lib/`` as .mpy for ``line``, or .py for ``SOURCE``)
    into ``out``; returns the files written (relative)."""
    return install(build(board_id, line), out)


def requested_line(
    board_id: str, out: Path, circuitpython: str | None, source: bool
) -> MpyLine | None:
    """The form a bundle of ``board_id`` into ``out`` is written in: ``SOURCE`` when asked,
    else the release line of the drive's ``boot_out.txt`` (or ``circuitpython``), after
    checking that the drive is the board's."""
    check_board_id(board_id)
    if source:
        return SOURCE
    boot = read_boot_out(out)
    if boot is not None:
        check_board(boot, board_id, out)
    return release_line(boot, circuitpython, out)
