"""The emulated built-in modules on the VM answer as each port family's C code does, seen by a
program of its own: ``wifi.radio.ap_info``, the watchdog's limits and its timeout change once
armed, ``os.getenv`` of an unquoted non-integer, a refused connection's errno, the clocks."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.integration.vm.vm_node import ROOMY_FREE_HEAP, vm_board, vm_drive
from tests.support.node import FEATHER_S3, PICO_W

PROGRAM = """
import errno, json, microcontroller, os, socketpool, supervisor, time, watchdog, wifi

results = {}


def attempt(name, action):
    try:
        results[name] = ["ok", action()]
    except Exception as error:
        results[name] = [type(error).__name__, str(error)]


def arm():
    dog.timeout = 8
    dog.mode = watchdog.WatchDogMode.RESET


def refused():
    pool = socketpool.SocketPool(wifi.radio)
    sock = pool.socket()
    sock.settimeout(5)
    try:
        sock.connect(("127.0.0.1", PORT))
    except OSError as error:
        return error.errno == errno.ECONNRESET
    finally:
        sock.close()


dog = microcontroller.watchdog
attempt("monotonic", lambda: type(time.monotonic()).__name__)
attempt("ticks_near_wrap", lambda: 2**29 - 70000 < supervisor.ticks_ms() < 2**29)
attempt("reset_reason", lambda: str(microcontroller.cpu.reset_reason))
attempt("ap_info", lambda: wifi.radio.ap_info is not None)
attempt("getenv_float", lambda: os.getenv("RATIO"))
attempt("getenv_host", lambda: os.getenv("HOME"))
attempt("watchdog_9_s", lambda: setattr(dog, "timeout", 9))
attempt("watchdog_arm", arm)
attempt("watchdog_change", lambda: setattr(dog, "timeout", 7))
attempt("watchdog_timeout", lambda: dog.timeout)
dog.mode = None
attempt("refused_is_reset", refused)
attempt("espidf", lambda: __import__("espidf").IDFError.__name__)
print("RESULTS " + json.dumps(results))
"""

COMMON = {
    "monotonic": ["ok", "float"],
    "ticks_near_wrap": ["ok", True],
    "reset_reason": ["ok", "microcontroller.ResetReason.POWER_ON"],
    "getenv_float": ["ValueError", "invalid syntax for integer with base 10: '3.27'"],
    "getenv_host": ["ok", None],
    "watchdog_arm": ["ok", None],
    "refused_is_reset": ["ok", True],
}
FAMILY = {
    # ports/raspberrypi: Radio.c ap_info raises; WatchDogTimer.c caps the timeout at 8 s
    # (mp_arg_validate_int_max) and re-enables the timer on a change.
    PICO_W: {
        "ap_info": ["NotImplementedError", ""],
        "watchdog_9_s": ["ValueError", "timeout must be <= 8"],
        "watchdog_change": ["ok", None],
        "watchdog_timeout": ["ok", 7.0],
        "espidf": ["ImportError", "no module named 'espidf'"],
    },
    # ports/espressif: Radio.c ap_info works; WatchDogTimer.c takes any timeout, and a change
    # once armed subscribes the task twice (the new timeout holds).
    FEATHER_S3: {
        "ap_info": ["ok", True],
        "watchdog_9_s": ["ok", None],
        "watchdog_change": ["IDFError", "Invalid argument"],
        "watchdog_timeout": ["ok", 7.0],
        "espidf": ["ok", "IDFError"],
    },
}


@pytest.mark.parametrize(
    ("board_id", "free_heap"), [(PICO_W, ROOMY_FREE_HEAP), (FEATHER_S3, ROOMY_FREE_HEAP)]
)
def test_modules_behave_as_the_port(tmp_path: Path, board_id: str, free_heap: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    drive = vm_drive(tmp_path / "drive", board_id, closed_port)
    (drive / "code.py").write_text(PROGRAM.replace("PORT", str(closed_port)))
    with (drive / "settings.toml").open("a") as settings:
        settings.write("RATIO = 3.27\n")
    with vm_board(drive, board_id, free_heap=free_heap) as board:
        line = board.wait_for(r"^RESULTS |Traceback", 60)
        board.wait_for(r"Code done running", 10)
    assert line.startswith("RESULTS "), "\n".join(board.lines)
    assert json.loads(line.removeprefix("RESULTS ")) == {**COMMON, **FAMILY[board_id]}
