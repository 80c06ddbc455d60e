"""Finding 2 on CircuitPython's own VM: what code.py imports must fit the board's free heap.

The bundle as a board's drive gets it (``.mpy`` compiled by CircuitPython 10.1.0's mpy-cross)
runs its imports on ``circuitpython-mcu`` (32-bit, as a board) with one GC heap whose
``gc.mem_free()`` at start reads the board's free heap at code.py start (tests/unit/device/
vm_imports.py says what runs and what stands in for the built-ins the VM lacks). Compiling the
``.py`` source on the board, as the bundle shipped before, needs more heap than a Pico W has.
"""

import pytest

from sensor_bridge.virtual.pins import FREE_HEAP
from tests.unit.device.vm_imports import (
    heapsize_for,
    imports,
    prepare,
    run,
)

PICO_W = "raspberry_pi_pico_w"

MIN_FREE_AFTER_IMPORTS = 30_000
"""Bytes every board must keep free once code.py's imports are done. The Pico W keeps about
55 kB today (docs/benchmarks.md); this floor catches a firmware or library change that eats
into what the reading buffer (760 readings at 18 B), MiniMQTT's buffers and the sockets need."""


@pytest.mark.parametrize("board_id", sorted(FREE_HEAP))
def test_the_compiled_bundle_imports_within_the_boards_free_heap(board_id, tmp_path):
    free_at_start = FREE_HEAP[board_id].free_at_start
    setup = prepare(board_id, tmp_path, compiled=True)
    heapsize = heapsize_for(setup, free_at_start)

    outcome = run(setup, heapsize)

    assert outcome.start == free_at_start
    assert outcome.error is None, f"{board_id}: {outcome.error} after {outcome.steps}"
    assert [step.module for step in outcome.steps] == imports(board_id)
    free_after = outcome.steps[-1].free_after
    assert free_after >= MIN_FREE_AFTER_IMPORTS, f"{board_id}: {free_after} bytes left"


def test_the_pico_w_heap_is_modelled_by_the_vms_heap_size(tmp_path):
    """The VM's own objects and the stand-ins take a few kB of the heap before code.py
    starts: the heap size is computed from the reading, not guessed."""
    setup = prepare(PICO_W, tmp_path, compiled=True)

    heapsize = heapsize_for(setup, 126_112)

    assert run(setup, heapsize).start == 126_112
    assert 4_000 < heapsize - 126_112 < 9_000


def test_the_source_bundle_does_not_fit_a_pico_w(tmp_path):
    """Finding 2: today's .py bundle compiles on the board and runs out of heap in code.py's
    imports on a Pico W (126,112 bytes free at start)."""
    setup = prepare(PICO_W, tmp_path, compiled=False)
    heapsize = heapsize_for(setup, FREE_HEAP[PICO_W].free_at_start)

    outcome = run(setup, heapsize)

    assert outcome.memory_error, outcome
    assert len(outcome.steps) < len(imports(PICO_W))
