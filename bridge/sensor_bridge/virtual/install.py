"""Turning this CPython process into the board's interpreter.

The fake modules go into ``sys.modules`` (over Blinka's); ``sys.path`` becomes the drive,
its ``lib`` and the standard library, so a library missing from the drive fails here as it
would on the board; ``os.environ`` holds ``settings.toml`` and nothing of the host;
``sys.implementation`` says CircuitPython (libraries branch on it); the drive's modules
load without evaluating annotations, as on the board.
"""

import os
import sys
import types
from pathlib import Path

from sensor_bridge.virtual.heap import HeapModel
from sensor_bridge.virtual.loader import install_drive_loader
from sensor_bridge.virtual.modules import CIRCUITPYTHON_VERSION, patch_gc
from sensor_bridge.virtual.settings import SettingValue, environ_value


def install_circuitpython(
    modules: dict[str, types.ModuleType],
    *,
    settings: dict[str, SettingValue],
    drive: Path,
    state_dir: Path,
    machine: str,
    heap: HeapModel,
) -> None:
    os.environ.clear()
    os.environ.update({key: environ_value(value) for key, value in settings.items()})
    sys.modules.update(modules)
    patch_gc(heap)
    implementation = types.SimpleNamespace(**vars(sys.implementation))
    implementation.name = "circuitpython"
    implementation.version = CIRCUITPYTHON_VERSION
    implementation._machine = machine
    sys.implementation = implementation  # type: ignore[assignment]
    sys.path[:] = [str(drive), str(drive / "lib"), *_stdlib_paths()]
    # Compiled files go to the state directory, never onto the drive.
    sys.pycache_prefix = str(state_dir / "pycache")
    install_drive_loader(drive)
    sys.argv = []


def _stdlib_paths() -> list[str]:
    prefixes = {os.path.realpath(prefix) for prefix in (sys.prefix, sys.base_prefix)}
    return [
        path
        for path in sys.path
        if path
        and "-packages" not in path
        and any(os.path.realpath(path).startswith(prefix) for prefix in prefixes)
    ]
