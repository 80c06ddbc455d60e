"""``os`` as on a board: the VM's own module, with ``getenv`` reading the drive's
settings.toml as the board's CircuitPython release does (the host answers it:
``sensor_bridge.virtual.getenv``; shared-module/os/getenv.c up to 10.1,
supervisor/shared/settings.c from 10.2), and nothing of the host's environment.

The built-in ``os`` is extensible (py/builtinimport.c): this file, found first on
sys.path, stands in for it; importing it with sys.path empty reaches the built-in.
"""

import sys

_path = sys.path[:]
sys.path.clear()
try:
    from os import *  # noqa: F403
finally:
    sys.path.extend(_path)
del _path

from _vboard import call  # noqa: E402


def getenv(key, default=None):
    value = call("getenv", key)
    return default if value is None else value
