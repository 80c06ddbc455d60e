"""Device heap: code.py's imports on CircuitPython's own VM, per board (issue 12, findings 2, 10).

For each supported board, on ``circuitpython-mcu`` with the heap size whose ``gc.mem_free()``
at start reads the board's free heap at code.py start (tests/unit/device/vm_imports.py: what
runs, what stands in for the built-ins, where each board's figure comes from), for the bundle
as a drive gets it (``.mpy``) and for the ``.py`` source compiled on the board:

* free heap after the imports, and the bytes each import keeps (after ``gc.collect()``);
* the peak during the imports, as the smallest free heap at start with which they all succeed
  (bisected heap size; ``micropython.mem_peak()`` drifts);
* how long each import takes on the VM (median of several runs, ``time.ticks_us``). The VM runs
  on this machine's CPU: the times compare ``.mpy`` with ``.py`` and module with module; they
  are not a board's.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from sensor_bridge.virtual.pins import FREE_HEAP
from tests.bench.report import Result
from tests.unit.device import vm_imports

NAME = "device-heap"
TITLE = "Device heap: code.py's imports on CircuitPython 10.1.0's VM, per board"
FORMS = {".mpy": True, ".py": False}
TIMING_RUNS = 21
QUICK_TIMING_RUNS = 3


@dataclass
class Figures:
    free_at_start: int
    heapsize: int
    error: str | None
    """What ended the imports on the board's heap (None: they all succeeded)."""
    free_after: int | None
    kept: dict[str, int]
    needs_at_start: int
    import_us: dict[str, float]


def run(quick: bool, minutes: float) -> Result:
    """``minutes`` does not apply: the figures come from a few seconds of runs."""
    result = Result(NAME, TITLE)
    runs = QUICK_TIMING_RUNS if quick else TIMING_RUNS
    with tempfile.TemporaryDirectory(prefix="bench-device-heap-") as tmp:
        for board_id, heap in FREE_HEAP.items():
            for form, compiled in FORMS.items():
                setup = vm_imports.prepare(board_id, Path(tmp) / (board_id + form), compiled)
                figures = measure(setup, heap.free_at_start, runs)
                result.data[f"{board_id} {form}"] = asdict(figures)
                _report(result, f"{board_id} {form}", figures)
    for board_id, heap in FREE_HEAP.items():
        result.notes.append(f"{board_id}: {heap.free_at_start:,} B free at start: {heap.source}")
    result.notes += [
        "kept: the drop in gc.mem_free() (after gc.collect()) over each import, with what it "
        "imports that was not imported yet (sensor_node.app: the whole firmware and the "
        "contract, adafruit_ticks included)",
        "needs at start: the smallest gc.mem_free() at start with which every import succeeds "
        "(bisected -X heapsize): the peak during the imports; headroom: the board's free heap "
        "at start less that",
        f"import times: median of {runs} runs on the VM, on this machine's CPU, not a board's",
    ]
    return result


def measure(setup: vm_imports.Setup, free_at_start: int, runs: int) -> Figures:
    heapsize = vm_imports.heapsize_for(setup, free_at_start)
    outcome = vm_imports.run(setup, heapsize)
    kept = {}
    previous = free_at_start
    for step in outcome.steps:
        kept[step.module] = previous - step.free_after
        previous = step.free_after
    needs = vm_imports.smallest_start_free(setup)
    # Times need every import to succeed, on a heap with room to spare (near the limit the VM
    # would spend its time collecting garbage).
    roomy = max(heapsize, 2 * (heapsize - free_at_start + needs))
    times: dict[str, list[int]] = {}
    for _ in range(runs):
        for step in vm_imports.run(setup, roomy).steps:
            times.setdefault(step.module, []).append(step.took_us)
    return Figures(
        free_at_start=free_at_start,
        heapsize=heapsize,
        error=outcome.error,
        free_after=outcome.steps[-1].free_after if outcome.error is None else None,
        kept=kept,
        needs_at_start=needs,
        import_us={module: statistics.median(us) for module, us in times.items()},
    )


def _kb(size: float) -> str:
    return f"{size / 1000:.1f} kB"


def _report(result: Result, label: str, figures: Figures) -> None:
    if figures.free_after is not None:
        after = f"{_kb(figures.free_after)} free after the imports"
    else:
        after = f"fails: {figures.error}"
    result.add(
        f"{label}: heap",
        f"{figures.free_at_start:,} B free at start (-X heapsize={figures.heapsize}): {after}; "
        f"needs {_kb(figures.needs_at_start)} at start, headroom "
        f"{_kb(figures.free_at_start - figures.needs_at_start)}",
    )
    result.add(
        f"{label}: kept per import",
        ", ".join(f"{module} {_kb(size)}" for module, size in figures.kept.items())
        + f"; total {_kb(sum(figures.kept.values()))}",
    )
    result.add(
        f"{label}: import time on the VM",
        ", ".join(f"{module} {us / 1000:.1f} ms" for module, us in figures.import_us.items())
        + f"; total {sum(figures.import_us.values()) / 1000:.1f} ms",
    )
