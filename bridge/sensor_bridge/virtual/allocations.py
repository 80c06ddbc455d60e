"""What the firmware allocates per main-loop iteration, measured with tracemalloc.

The firmware feeds the watchdog once per iteration, so a feed marks the iteration boundary.
For each iteration the probe records the peak of traced memory above where the iteration
started (the transient allocation the heap must absorb) and the net change (a leak shows as
a steady positive trend). Only on request (``--trace-allocations``): tracemalloc slows the
interpreter, and timing figures taken with it on are not the board's.
"""

import threading
import tracemalloc
from array import array

WARM_UP_ITERATIONS = 50
"""Iterations skipped before counting: imports, first connect and buffers settling."""
MAX_COUNTED = 200_000
"""Iterations kept; the store is allocated before tracing starts so it does not count itself."""


class AllocationProbe:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._iterations = 0
        self._transient = array("q", bytes(8 * MAX_COUNTED))
        self._counted = 0
        self._start_current = 0
        self._last_current = 0

    def start(self) -> None:
        tracemalloc.start()
        self._last_current = tracemalloc.get_traced_memory()[0]

    def on_feed(self) -> None:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with self._lock:
            self._iterations += 1
            if self._iterations == WARM_UP_ITERATIONS:
                self._start_current = current
            elif self._iterations > WARM_UP_ITERATIONS and self._counted < MAX_COUNTED:
                self._transient[self._counted] = max(0, peak - self._last_current)
                self._counted += 1
            self._last_current = current

    def summary(self) -> dict[str, object]:
        with self._lock:
            counted = self._counted
            if counted == 0:
                return {"iterations": self._iterations, "counted": 0}
            ordered = sorted(self._transient[:counted])
            return {
                "iterations": self._iterations,
                "counted": counted,
                "transient_mean_bytes": round(sum(ordered) / counted),
                "transient_p95_bytes": ordered[int(0.95 * (counted - 1))],
                "transient_max_bytes": ordered[-1],
                "net_bytes_per_iteration": round(
                    (self._last_current - self._start_current) / counted, 2
                ),
            }
