"""Passing the world from one boot to the next when the MCU resets.

A reset re-executes the process (same arguments, minus ``--safe-mode``). What outlives the
MCU travels in one environment variable: the physical clock, the furnace, the network
state, the MAX31856's registers (the chip keeps its power), the scenario position, and
how this boot came about. Real sockets stay open across the exec, unread, as the broker's
side of a connection does when a board resets under it.
"""

import json
import os
import sys
from typing import Any, NoReturn

ENV_VAR = "SENSOR_BRIDGE_VIRTUAL_BOOT"


def take() -> dict[str, Any] | None:
    """The handoff from the previous boot, removed from the environment; None at power-on."""
    text = os.environ.pop(ENV_VAR, None)
    return None if text is None else dict(json.loads(text))


def next_argv(argv: list[str]) -> list[str]:
    """The arguments for the next boot: ``--safe-mode`` applies to one boot only."""
    result: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--safe-mode":
            skip = True
            continue
        if arg.startswith("--safe-mode="):
            continue
        result.append(arg)
    return result


def reexec(
    argv: list[str], host_env: dict[str, str], handoff: dict[str, Any], keep_fds: list[int]
) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    for fd in keep_fds:
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass
    env = dict(host_env)
    env[ENV_VAR] = json.dumps(handoff)
    os.execve(
        sys.executable,
        [sys.executable, "-m", "sensor_bridge.virtual", *next_argv(argv)],
        env,
    )
