"""The firmware's imports on CircuitPython's own VM with a board's free heap (issue 12, findings
2 and 10). Shared by test_device_vm_imports.py and the benchmark tests/bench/device_heap.py.

What runs: the tree ``sensor_bridge.bundle`` writes (``.mpy`` for 10.x as a board's drive gets
it, or the ``.py`` source form) on ``circuitpython-mcu`` (32-bit, CircuitPython 10.1.0), with
one GC heap sized so that ``gc.mem_free()`` at the start of the script reads the board's free
heap at code.py start. The script imports what code.py imports, in the order the firmware does:
``sensor_node.app`` (with the contract and everything it imports at module level), the board
module (``boot.load_board_module``), then what ``boot._compose`` imports, then ``neopixel`` on
boards with a NeoPixel (``boot._make_led``); ``gc.collect()`` and ``gc.mem_free()`` after each,
and the time each import took on the VM (``time.ticks_us``).

Built-in modules cost a board no heap, so the stand-ins for the ones the VM lacks are imported
before the start reading (which the heap size is calibrated on). Only modules imported at
module level need one:

* ``board``: the board module reads its pins from it (the pin names it uses, as ints);
* ``digitalio``, ``neopixel_write``: ``neopixel`` imports them at module level;
* ``supervisor``: ``adafruit_ticks`` takes ``supervisor.ticks_ms`` when it exists, as on a board
  (without it, it builds a fallback from ``time``, which a board never loads);
* ``adafruit_bus_device``, ``adafruit_pixelbuf``: built into every supported board
  (py/circuitpy_mpconfig.mk: CIRCUITPY_BUSDEVICE and CIRCUITPY_PIXELBUF follow
  CIRCUITPY_FULL_BUILD), and a non-extensible built-in is imported before any file of that name
  (py/builtinimport.c, process_import_at_level), so the bundle's library copies never load on a
  board. The stand-ins come first on ``sys.path`` for the same effect.
"""

from __future__ import annotations

import ast
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sensor_bridge import bundle
from sensor_bridge.circuitpython_tools import MCU_VM, require

VERSION = "10.1.0"
"""The CircuitPython the VM is, and the drive's boot_out.txt says."""


COMPOSE_LIBRARIES = (
    "adafruit_connection_manager",
    "adafruit_minimqtt.adafruit_minimqtt",
    "sensor_node.max31856",
)
"""What ``boot._compose`` imports beyond built-ins, in its order."""

_STAND_INS = {
    "digitalio.py": "class DigitalInOut:\n    pass\n",
    "neopixel_write.py": "def neopixel_write(pin, buf):\n    pass\n",
    "supervisor.py": "from time import ticks_ms\n",
    "adafruit_bus_device/__init__.py": "",
    "adafruit_bus_device/spi_device.py": "class SPIDevice:\n    pass\n",
    "adafruit_bus_device/i2c_device.py": "class I2CDevice:\n    pass\n",
    "adafruit_pixelbuf.py": "class PixelBuf:\n    pass\n",
}

_SCRIPT = """\
import board, digitalio, neopixel_write, supervisor, adafruit_bus_device.spi_device
import adafruit_pixelbuf
import gc, time
pad = tuple(range({pad_items}))
gc.collect()
print("start", gc.mem_free())
for name in {names!r}:
    began = time.ticks_us()
    __import__(name)
    took = time.ticks_diff(time.ticks_us(), began)
    gc.collect()
    print("step", name, took, gc.mem_free())
"""


def board_pins(board_id: str) -> list[str]:
    """The ``board.X`` names the board module reads."""
    tree = ast.parse((bundle.boards_dir() / f"{board_id}.py").read_text(encoding="utf-8"))
    return sorted(
        {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "board"
        }
    )


def has_neopixel(board_id: str) -> bool:
    """Whether the board module names a status NeoPixel (then ``boot._make_led`` imports
    ``neopixel``)."""
    tree = ast.parse((bundle.boards_dir() / f"{board_id}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "STATUS_NEOPIXEL" for t in node.targets
        ):
            return not (isinstance(node.value, ast.Constant) and node.value.value is None)
    return False


def imports(board_id: str) -> list[str]:
    """What code.py imports on ``board_id``, in the firmware's order."""
    names = ["sensor_node.app", "sensor_node.boot", f"boards.{board_id}", *COMPOSE_LIBRARIES]
    return [*names, "neopixel"] if has_neopixel(board_id) else names


@dataclass
class Step:
    module: str
    took_us: int
    free_after: int


@dataclass
class Run:
    """One run of the import script."""

    heapsize: int
    start: int | None = None
    """``gc.mem_free()`` at the start (stand-ins imported)."""
    steps: list[Step] = field(default_factory=list)
    error: str | None = None
    """The exception that ended the imports (its last line), None when all imported."""

    @property
    def memory_error(self) -> bool:
        return self.error is not None and self.error.startswith("MemoryError")


@dataclass
class Setup:
    """A tree, its stand-ins and the script, in one directory, for one board and form."""

    board_id: str
    compiled: bool
    root: Path

    @property
    def lib(self) -> Path:
        return self.root / "CIRCUITPY" / "lib"

    @property
    def script(self) -> Path:
        return self.root / "imports.py"

    @property
    def stand_ins(self) -> Path:
        return self.root / "stand_ins"

    def write_script(self, pad_blocks: int = 0) -> None:
        """The import script, keeping ``pad_blocks`` GC blocks (16 bytes each) allocated from
        before the start reading: a tuple of n items takes 8 + 4n bytes."""
        self.script.write_text(
            _SCRIPT.format(pad_items=_PAD_ITEMS[pad_blocks], names=tuple(imports(self.board_id)))
        )


def prepare(board_id: str, root: Path, compiled: bool = True) -> Setup:
    """The bundle for ``board_id`` under ``root``: compiled as for a drive whose boot_out.txt
    says CircuitPython 10.1.0, or the source form."""
    setup = Setup(board_id, compiled, root)
    line = bundle.mpy_line(VERSION, "boot_out.txt") if compiled else bundle.SOURCE
    bundle.write(board_id, root / "CIRCUITPY", line)
    for name, text in {
        "board.py": "".join(f"{pin} = {n}\n" for n, pin in enumerate(board_pins(board_id))),
        **_STAND_INS,
    }.items():
        path = setup.stand_ins / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    setup.write_script()
    return setup


_PAD_ITEMS = {0: 0, 1: 1, 2: 3, 3: 7}
"""Tuple lengths that take 0 to 3 GC blocks (``tuple(range(0))`` is the empty singleton)."""
_BLOCK = 16
"""Bytes per GC block on a 32-bit build (py/gc.c: BYTES_PER_BLOCK, 4 words)."""

_LAST_LINE = re.compile(r"^(\w+(?:Error|Exception)\b.*)$", re.MULTILINE)


def run(setup: Setup, heapsize: int) -> Run:
    """The script on ``circuitpython-mcu -X heapsize=heapsize``."""
    (vm,) = require(MCU_VM)
    result = subprocess.run(
        [vm, "-X", f"heapsize={heapsize}", setup.script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # The unix port's sys.path: the stand-ins first, as built-ins come first on a board.
        env={"MICROPYPATH": f"{setup.stand_ins}:{setup.lib}"},
    )
    outcome = Run(heapsize)
    for line in result.stdout.splitlines():
        words = line.split()
        if words[0] == "start":
            outcome.start = int(words[1])
        elif words[0] == "step":
            outcome.steps.append(Step(words[1], int(words[2]), int(words[3])))
    if result.returncode != 0:
        errors = _LAST_LINE.findall(result.stderr)
        outcome.error = errors[-1] if errors else result.stderr.strip() or "exit status"
    elif outcome.start is None or len(outcome.steps) != len(imports(setup.board_id)):
        raise AssertionError(f"the import script printed {result.stdout!r}, {result.stderr!r}")
    return outcome


def heapsize_for(setup: Setup, free_at_start: int) -> int:
    """The ``-X heapsize`` whose start reading is exactly ``free_at_start``; the script is
    rewritten with the padding that takes.

    The reading grows in steps of 64 bytes (4 blocks share a byte of the allocation table,
    py/gc.c gc_setup_area), so: bisect for the smallest heap size that reads at least the
    target, then keep the 0 to 3 blocks the reading is over it allocated before the reading.
    """
    setup.write_script()
    # The allocation and finaliser tables take 3 bits per 16-byte block (2.3 %), the VM's own
    # objects about 2 kB.
    low, high = free_at_start, free_at_start + free_at_start // 16 + 16 * 1024
    while low < high:
        middle = (low + high) // 2
        start = run(setup, middle).start
        if start is None:
            raise AssertionError(f"no start reading with heapsize={middle}")
        if start >= free_at_start:
            high = middle
        else:
            low = middle + 1
    over = (run(setup, low).start or 0) - free_at_start
    setup.write_script(pad_blocks=over // _BLOCK)
    found = run(setup, low).start
    if found != free_at_start:
        raise AssertionError(f"heapsize={low} reads {found} at start, not {free_at_start}")
    return low


def smallest_start_free(setup: Setup) -> int:
    """The smallest free heap at code.py start with which every import succeeds: the peak the
    imports need (``micropython.mem_peak()`` drifts; bisecting the heap size does not). Run on
    the script ``heapsize_for`` wrote."""
    low, high = 8 * 1024, 16 * 1024
    while not _imports_all(setup, high):
        low, high = high, high * 2
    while low < high:
        middle = (low + high) // 2
        if _imports_all(setup, middle):
            high = middle
        else:
            low = middle + 1
    start = run(setup, low).start
    assert start is not None
    return start


def _imports_all(setup: Setup, heapsize: int) -> bool:
    outcome = run(setup, heapsize)
    if outcome.error is not None and not outcome.memory_error:
        raise AssertionError(f"heapsize={heapsize}: {outcome.error}")
    return outcome.error is None
