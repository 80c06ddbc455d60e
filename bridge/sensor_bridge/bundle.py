"""Write the CIRCUITPY tree for one board: ``python -m sensor_bridge.bundle BOARD_ID OUT_DIR``.

Works offline, from this checkout and the installed packages. The device libraries are not
listed anywhere: the firmware's imports are scanned (then the libraries' own imports), and each
module that is neither a CircuitPython built-in nor part of the firmware must come from an
installed ``adafruit-circuitpython-*`` distribution, so a new import cannot be left behind.

Imports inside a ``try`` that handles ImportError, or under a test of ``sys.implementation``
or ``sys.platform``, are optional: the code runs without them on a board (typing, fallbacks,
other platforms), so they are not bundled.
"""

import argparse
import ast
import importlib.metadata
import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import sensor_protocol

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
"""Where the wheel puts ``firmware/`` and ``boards/`` (pyproject's force-include)."""
_TOP_LEVEL_FILES = ("code.py", "safemode.py", "settings.toml.example")


class BundleError(Exception):
    """The tree cannot be written; the message says what is missing or wrong."""


class UnknownBoardError(BundleError):
    """The board id has no module in ``boards/``."""


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


def installed_libraries() -> frozenset[str]:
    """Top-level modules of the installed ``adafruit-circuitpython-*`` distributions."""
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


def plan(board_id: str) -> list[tuple[Path, Path]]:
    """Every file of the tree for ``board_id`` as ``(source, destination relative to OUT)``."""
    supported = supported_boards()
    if board_id not in supported:
        raise UnknownBoardError(f"unknown board {board_id!r}; supported: {', '.join(supported)}")
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


def write(board_id: str, out: Path) -> list[Path]:
    """Write the tree for ``board_id`` into ``out``; returns the files written (relative).

    Each package or module written to ``lib/`` replaces any older copy of it (``.py``,
    ``.mpy`` or a package directory); everything else in ``out``, such as ``settings.toml``
    on a real board, is left alone.
    """
    files = plan(board_id)
    lib_items = {dest.parts[1] for _, dest in files if len(dest.parts) > 1}
    for item in sorted(lib_items):
        stem = item.removesuffix(".py")
        for old in (
            out / "lib" / stem,
            out / "lib" / (stem + ".py"),
            out / "lib" / (stem + ".mpy"),
        ):
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
    for source, dest in files:
        target = out / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return [dest for _, dest in files]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hatch run bundle",
        description="Write the CIRCUITPY tree (firmware, board module, libraries) for a board.",
    )
    parser.add_argument("board_id", help="the board's board.board_id")
    parser.add_argument("out_dir", type=Path, help="where to write (e.g. the mounted CIRCUITPY)")
    args = parser.parse_args(argv)
    try:
        written = write(args.board_id, args.out_dir)
    except UnknownBoardError as error:
        print(f"bundle: {error}", file=sys.stderr)
        return 2
    except (BundleError, OSError, SyntaxError) as error:
        print(f"bundle: {error}", file=sys.stderr)
        return 1
    for dest in written:
        print(f"wrote {args.out_dir / dest}")
    print(f"{len(written)} files for {args.board_id} in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
