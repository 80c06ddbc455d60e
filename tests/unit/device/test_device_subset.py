"""Device code uses only what CircuitPython has (ARCHITECTURE §3, device subset rules)."""

import importlib.metadata
import re
from pathlib import Path

import pytest

from sensor_bridge.bundle import CIRCUITPYTHON_BUILTINS, supported_boards
from tests.unit.device.subset_rules import (
    DEVICE_FILES,
    FIRMWARE,
    REPO_ROOT,
    SHARED_PACKAGE,
    problems,
)

# Core modules of every MicroPython build, which the stubs' per-board lists leave out.
CORE_MODULES = {"gc", "micropython"}


def _name(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def test_the_device_code_is_found():
    names = {_name(path) for path in DEVICE_FILES}

    assert "firmware/lib/sensor_protocol/payloads.py" in names
    assert "boards/raspberry_pi_pico_w.py" in names


@pytest.mark.parametrize("path", DEVICE_FILES, ids=_name)
def test_device_code_keeps_to_the_subset(path):
    assert problems(path) == []


def board_modules(board_id: str) -> set[str]:
    """The modules CircuitPython builds in for ``board_id``, from circuitpython-stubs."""
    stub = importlib.metadata.distribution("circuitpython-stubs").locate_file(
        f"board_definitions/{board_id}/__init__.pyi"
    )
    text = Path(str(stub)).read_text(encoding="utf-8")
    listed = re.search(r"Included modules: (.*)", text)
    assert listed, f"no module list in {stub}"
    return {name.strip() for name in listed.group(1).split(",")}


@pytest.mark.parametrize("board_id", supported_boards())
def test_every_allowed_builtin_is_on_the_board(board_id):
    missing = CIRCUITPYTHON_BUILTINS - CORE_MODULES - board_modules(board_id)

    assert not missing, f"{board_id} lacks {sorted(missing)}"


# The rules themselves: each snippet is checked as if it were device code.

BREACHES = [
    ("import dataclasses", "dataclasses"),
    ("from enum import IntEnum", "enum"),
    ("import abc", "abc"),
    ("try:\n    import dataclasses\nexcept ImportError:\n    pass", "dataclasses"),
    ("from __future__ import annotations", "__future__"),
    ("from typing import Optional", "typing outside"),
    ("import typing", "typing outside"),
    (
        "try:\n    from typing import cast\nexcept ImportError:\n    pass\nx = cast(int, 1)",
        "run time",
    ),
    ("try:\n    import typing\nexcept ImportError:\n    pass\nT = typing.List", "run time"),
    (
        "try:\n    from typing import NamedTuple\nexcept ImportError:\n    pass\n"
        "class P(NamedTuple):\n    x: int",
        "run time",
    ),
    ("Rows = list[tuple]", "PEP 585"),
    ("Maybe = int | None", "X | None"),
    ("x = 1\ntext = f'{x=}'", "`=` specifier"),
    ("x = 1\ntext = f'{x = }'", "`=` specifier"),
    ("x = 1\ntext = f'{x=!r:>8}'", "`=` specifier"),
    ("x = 1\ntext = f'{x=:>8}'", "`=` specifier"),
    ("from micropython import const\nA = const('a')", "const()"),
    ("from micropython import const\nA = const(1.5)", "const()"),
    ("from micropython import const\nA = const(1 / 2)", "const()"),
    ("import logging", "logging"),
    ("import functools", "functools"),
    ("from asyncio import sleep", "asyncio"),
    ("import socket", "socket"),
    ("def f():\n    import threading", "threading"),
]

FINE = [
    "try:\n    from typing import Optional\nexcept ImportError:\n    pass\n"
    "def f(a: Optional[int]) -> 'Optional[int]':\n    b: Optional[int] = a\n    return b",
    "try:\n    import logging\nexcept ImportError:\n    logging = None",
    "try:\n    from struct import unpack\nexcept ImportError:\n    from ustruct import unpack",
    "x: list[int] = []",
    "x = 1\ntext = f'{x!r} {x:=^8} {x == 1} {x != 2} {x >= 0} {{x=}}'",
    "text = 'not an f-string {x=}'",
    "from micropython import const\nA = const(1 << 4)\nB = const(-A)\nC = const(A | 0x10)",
    "import board, busio, digitalio, analogio, microcontroller, supervisor, wifi, socketpool",
    "import gc, json, os, struct, time, errno, random, rtc, watchdog, traceback",
    "import adafruit_minimqtt.adafruit_minimqtt\nimport adafruit_ticks",
    "import adafruit_connection_manager, neopixel",
    "from adafruit_bus_device.spi_device import SPIDevice",
    "import sensor_protocol.payloads\nimport sensor_node\nimport boards",
    "flags = 1 | 2",
]


@pytest.mark.parametrize(("source", "expected"), BREACHES)
def test_a_breach_is_reported(source, expected):
    found = problems(FIRMWARE / "lib" / "sensor_node" / "example.py", source)

    assert any(expected in problem for problem in found), found


@pytest.mark.parametrize("source", FINE)
def test_allowed_code_passes(source):
    assert problems(FIRMWARE / "lib" / "sensor_node" / "example.py", source) == []


def test_micropython_is_refused_in_shared_code_only():
    source = "from micropython import const\nA = const(1)"

    assert problems(FIRMWARE / "lib" / "sensor_node" / "example.py", source) == []
    found = problems(SHARED_PACKAGE / "example.py", source)
    assert any("shared code" in problem for problem in found), found
