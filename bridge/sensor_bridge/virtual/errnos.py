"""The port's errno numbers: the ``errno`` module the program imports, and the ``OSError``
the port raises, numbered as CircuitPython numbers them on the board (``families.ERRNO``:
newlib's numbers, not the host's).

A program that compares ``exc.errno`` with ``errno.ETIMEDOUT`` works here exactly when it
works on the board; one that compares with a literal ``110`` (Linux) does not.
"""

import errno as host_errno
import types

from sensor_bridge.virtual.errors import OSError
from sensor_bridge.virtual.families import ERRNO, ERRNO_EXTRA

NUMBERS = {**ERRNO, **ERRNO_EXTRA}


def port_error(name: str) -> OSError:
    """``OSError: [Errno 116] ETIMEDOUT``, as the board raises and prints it."""
    return OSError(NUMBERS[name], name)


def from_host(exc: BaseException) -> OSError:
    """A host socket error as the port reports it: the same error name, the port's number
    (EIO for a name the port does not have)."""
    name = host_errno.errorcode.get(getattr(exc, "errno", None) or 0, "EIO")
    return port_error(name if name in NUMBERS else "EIO")


def build_errno() -> types.ModuleType:
    """CircuitPython's ``errno``: the names of py/moderrno.c, the port's numbers."""
    module = types.ModuleType("errno", "errno numbers of the board's port (virtual board).")
    module.__dict__.update(ERRNO, errorcode={number: name for name, number in ERRNO.items()})
    return module
