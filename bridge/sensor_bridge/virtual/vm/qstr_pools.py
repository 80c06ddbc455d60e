"""What the qstr pools of a program cost on a board, against what they cost on the VM engine.

The VM engine reads less free heap than a board after code.py starts, by the tables of the
qstr pools the program's names open (docs/firmware-memory.md). From CircuitPython 10.1.0's
source:

- py/qstr.c ``qstr_add``: a full pool is followed by one of twice its ``alloc``; the const
  pools' ``alloc`` is MICROPY_ALLOC_QSTR_ENTRIES_INIT (10), so the first dynamic pool has 20
  entries and pool ``k`` has ``20 * 2**k``. A pool takes ``sizeof(qstr_pool_t)`` (24 bytes
  on a 32-bit build, py/qstr.h) plus, per entry, a pointer, a hash of
  MICROPY_QSTR_BYTES_IN_HASH and a length of MICROPY_QSTR_BYTES_IN_LEN (1) bytes, in one
  heap block (rounded up to the GC's 16-byte blocks, py/gc.c).
- A board's built-in modules have their names in ROM: code.py's VM starts with no dynamic
  pool, and a full build keeps 1-byte hashes (py/circuitpy_mpconfig.h, CIRCUITPY_FULL_BUILD).
- On the VM the engine's stand-ins have interned their names before code.py (``start``),
  and the unix port's ROM level (EXTRA_FEATURES) keeps 2-byte hashes (py/mpconfig.h).
- ``micropython.qstr_info()`` prints ``qstr pool: n_pool=…, n_qstr=…`` (py/modmicropython.c);
  the engine's probe prints it at the start of code.py and the ``heap`` command with
  ``qstr`` prints it on the console.

The string data is the same on both and not part of the difference. What this leaves out:
names that one ROM holds and the other does not (the Pico W's and the unix port's built-in
names differ), which move the figure by a few entries' worth either way.
"""

from __future__ import annotations

import re
from typing import NamedTuple

FIRST_POOL_ENTRIES = 20
POOL_HEADER_BYTES = 24
POINTER_BYTES = 4
LENGTH_BYTES = 1
BOARD_HASH_BYTES = 1
VM_HASH_BYTES = 2
GC_BLOCK_BYTES = 16

_INFO = re.compile(r"qstr pool: n_pool=(\d+), n_qstr=(\d+)")


class QstrPools(NamedTuple):
    pools: int
    names: int


def parse_qstr_info(text: str) -> QstrPools | None:
    """The last ``micropython.qstr_info()`` line in ``text``, or None."""
    found = _INFO.findall(text)
    if not found:
        return None
    pools, names = found[-1]
    return QstrPools(int(pools), int(names))


def _pool_bytes(index: int, hash_bytes: int) -> int:
    entries = FIRST_POOL_ENTRIES << index
    size = POOL_HEADER_BYTES + (POINTER_BYTES + hash_bytes + LENGTH_BYTES) * entries
    return -(-size // GC_BLOCK_BYTES) * GC_BLOCK_BYTES


def vm_pool_bytes_since(start: QstrPools, now: QstrPools) -> int:
    """The pool tables the VM opened between ``start`` and ``now``."""
    return sum(_pool_bytes(index, VM_HASH_BYTES) for index in range(start.pools, now.pools))


def board_pool_bytes(names: int) -> int:
    """The pool tables a board opens for ``names`` dynamic names from a start with none."""
    total, index, room = 0, 0, 0
    while room < names:
        total += _pool_bytes(index, BOARD_HASH_BYTES)
        room += FIRST_POOL_ENTRIES << index
        index += 1
    return total


def board_free(vm_free: int, start: QstrPools, now: QstrPools) -> int:
    """``gc.mem_free()`` on the VM engine as a board would read it: the VM's pool tables
    opened since code.py started replaced by those a board opens for the same names."""
    names = now.names - start.names
    return vm_free + vm_pool_bytes_since(start, now) - board_pool_bytes(names)
