"""The ``-X heapsize`` that gives the VM a board's free heap at the start of code.py.

``gc.mem_free()`` at that point is below the heap size by the GC's own tables (py/gc.c
gc_init: 3 bits per 16-byte block), by what the VM itself keeps (about 4.9 kB), and by what
the board has in C but the VM holds on its heap: the emulated built-in modules (device/),
which ``vboard_main`` imports before code.py, and the built-in libraries the bundle also
carries (``boot_config.PRELOAD``). Measured with CircuitPython 10.1.0's VM: those hold
41,136 bytes on a Pico W drive (socketpool 8.0 kB, _vboard 3.9 kB, microcontroller and
watchdog 5.1 kB, board 2.7 kB, digitalio 2.7 kB, busio 2.5 kB, wifi 2.4 kB, supervisor 2.3 kB,
adafruit_pixelbuf 3.6 kB, adafruit_bus_device 2.5 kB, the rest under 2 kB each, and the
supervisor's own code); every boot prints its figure (``VIRTUAL vm heap``). The heap size
compensates for all of it: the engine runs the VM's start up to code.py (a probe: the same
code on the same drive) and corrects the heap size until ``gc.mem_free()`` there reads the
board's figure. The free heap moves in steps (one allocation-table byte covers 4 blocks: 64
bytes, now and then a few times that): the engine takes the largest figure at or below the
board's, found by bisection once its aim is close.

Not compensated by the heap size, because it is spent after code.py starts: the tables of
the qstr pools the program's names open. The VM opens larger pools than a board for the same
names (the stand-ins' names, in ROM on a board, filled the small pools before code.py) and
keeps 2-byte hashes where a full build keeps 1, so the VM reads about 5.8 kB less free heap
than a Pico W would. ``qstr_pools`` computes the difference from the pool counts the VM prints
(``micropython.qstr_info()``) at the start of code.py and at the reading; the ``heap`` command
with ``qstr`` gives both (docs/firmware-memory.md).
"""

import math
from collections.abc import Callable

STEP = 64
"""4 GC blocks of 16 bytes: what one byte of the allocation table covers (py/gc.c); the free
heap moves in steps of about this (up to a few times it, as the VM's own allocations shift)."""
HEAP_PER_FREE_BYTE = 524 / 512
"""py/gc.c gc_init: per 16-byte block, 2 bits of allocation table and 1 of finaliser table."""
FIRST_GUESS = 46_000
"""Heap above the target for the first probe: the VM's ~4.9 kB and the ~41 kB above."""
CLOSE = 4 * STEP
"""Near enough to the target to stop aiming and bracket it."""
RESOLUTION = 16
"""The heap sizes of the final bracket differ by at most this."""
MAX_PROBES = 24


class CalibrationError(RuntimeError):
    """The probes did not converge (the start of the VM is not deterministic)."""


def calibrate(target_free: int, measure: Callable[[int], int]) -> tuple[int, int]:
    """``(heapsize, free)``: the largest heap size (to ``RESOLUTION`` bytes) whose
    ``measure(heapsize)`` (the free heap at the start of code.py) is at most ``target_free``,
    and that free heap. It aims with the GC's ratio, then bisects a bracket."""
    tried: dict[int, int] = {}

    def probe(heapsize: int) -> int:
        if len(tried) >= MAX_PROBES:
            raise CalibrationError(
                f"no heap size gives {target_free} bytes free at the start of code.py: tried "
                + ", ".join(f"{size} -> {free}" for size, free in sorted(tried.items()))
            )
        tried[heapsize] = measure(heapsize)
        return tried[heapsize]

    heapsize = target_free + FIRST_GUESS
    error = target_free - probe(heapsize)
    while abs(error) >= CLOSE:
        heapsize += math.floor(error * HEAP_PER_FREE_BYTE)
        error = target_free - probe(heapsize)
    low, high = heapsize, heapsize
    while tried[low] > target_free:
        low -= CLOSE
        probe(low)
    while tried[high] <= target_free:
        high += CLOSE
        probe(high)
    while high - low > RESOLUTION:
        middle = (low + high) // 2
        if probe(middle) <= target_free:
            low = middle
        else:
            high = middle
    return low, tried[low]
