"""``gc.mem_free``/``gc.mem_alloc`` for a board heap, estimated from CPython's allocations.

CPython objects are far bigger than CircuitPython's, and differently so for code and for
data, so the estimate has two rates. What the program allocated up to its first question
about memory (imports, set-up) is counted at ``CODE_BYTES_PER_BLOCK``; what it allocates
after that (readings, buffers) at ``DATA_BYTES_PER_BLOCK``. Measured here: importing the
bundle's Adafruit libraries adds ~2,600 CPython blocks (~50 KB on a Pico W from .py);
1000 reading tuples add ~6,700 blocks (~80 KB there). Trends (a leak, a filling buffer)
show; absolute values are approximate.
"""

import sys
import threading

BOOT_ALLOC_BYTES = 5_000
"""What CircuitPython itself holds on the heap when code.py starts."""
CODE_BYTES_PER_BLOCK = 20.0
DATA_BYTES_PER_BLOCK = 12.0


class HeapModel:
    def __init__(self, heap_bytes: int) -> None:
        self._heap = heap_bytes
        self._lock = threading.Lock()
        self._start_blocks = sys.getallocatedblocks()
        self._code_bytes: float | None = None
        self._data_start = 0

    def mem_alloc(self) -> int:
        blocks = sys.getallocatedblocks()
        with self._lock:
            if self._code_bytes is None:
                self._code_bytes = max(0, blocks - self._start_blocks) * CODE_BYTES_PER_BLOCK
                self._data_start = blocks
            data = max(0, blocks - self._data_start) * DATA_BYTES_PER_BLOCK
            used = BOOT_ALLOC_BYTES + self._code_bytes + data
        return min(self._heap, int(used))

    def mem_free(self) -> int:
        return self._heap - self.mem_alloc()
