"""Loading the drive's Python as CircuitPython does: annotations are never evaluated.

MicroPython parses annotations and throws them away; CPython evaluates them when a
function is defined, so a library whose annotation names exist only under
``try: from typing import ... except ImportError`` fails on CPython and not on the board.
Every module of the drive (and ``code.py``) is compiled with postponed annotations
(PEP 563), which never evaluates them either.
"""

import __future__

import importlib.machinery
import os
import sys
import types
from pathlib import Path
from typing import Any

FLAGS = __future__.annotations.compiler_flag


class DriveSourceLoader(importlib.machinery.SourceFileLoader):
    def source_to_code(  # type: ignore[override]
        self, data: Any, path: Any, *, _optimize: int = -1
    ) -> types.CodeType:
        return compile(data, path, "exec", flags=FLAGS, dont_inherit=True, optimize=_optimize)


def install_drive_loader(drive: Path) -> None:
    """Make imports from under ``drive`` use ``DriveSourceLoader``."""
    root = os.path.realpath(drive)

    def hook(path: str) -> importlib.machinery.FileFinder:
        real = os.path.realpath(path)
        if real != root and not real.startswith(root + os.sep):
            raise ImportError("not on the drive")
        return importlib.machinery.FileFinder(
            path, (DriveSourceLoader, importlib.machinery.SOURCE_SUFFIXES)
        )

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.clear()


def run_main(filename: str) -> None:
    """Run ``filename`` (relative to the current directory) as ``__main__``."""
    with open(filename, encoding="utf-8") as source:
        code = compile(source.read(), filename, "exec", flags=FLAGS, dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__file__ = filename
    sys.modules["__main__"] = main
    exec(code, main.__dict__)
