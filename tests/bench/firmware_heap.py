"""Firmware heap in steady state on CircuitPython's own VM, per board (issue 12, item 4).

For each board, the bundle as a drive gets it (``.mpy`` for the VM's release line) runs on the
virtual board's ``--engine vm`` with the board's free heap at code.py start, against a real
Mosquitto. Every heap figure is the VM's own ``gc.mem_free()`` right after a collection (the
control socket's ``heap``) as the board would read it (the VM's qstr pool tables replaced by the
board's: ``vm_node.board_heap_free``), read every ``SAMPLE_EVERY_S``:

1. boot until the birth message is published: the heap after the imports and the composition;
2. the broker refuses connections until the buffer drops its first reading (full);
3. with the buffer full, network faults in turn (``FAULTS``, ``FAULT_S`` each) until the loop
   has run ``ITERATIONS`` iterations since the buffer filled (watchdog feeds: the firmware
   feeds once per iteration);
4. the network back: backfill until the buffer is empty, then ``ONLINE_AFTER_S`` online.

Figures: heap after boot; the lowest with the buffer full; the lowest during the backfill; net
growth (the first against the last reading with the buffer full, and online before the outage
against online after it); the longest loop iteration while each fault was on (the watchdog's
longest gap between feeds, which only grows: when a fault's phases did not raise it, the figure
is "at most" the longest seen so far).

Readings are taken every 0.5 s (``SAMPLE_PERIOD_S``, the shortest the settings allow) so that
the buffer fills in capacity / 2 seconds; the loop runs at its own rate (at most 100 ms idle,
sensor_node.node), so 10,000 iterations take about 17 minutes on every board, whatever the
period. ``RESET_AFTER_OFFLINE_S`` is the longest the settings allow, so that the outage, which is
longer than the default's 30 minutes, is not ended by the recovery ladder's reset (its own
tests cover it).

Run one board: ``hatch run python -m tests.bench.firmware_heap raspberry_pi_pico_w``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_bridge.virtual.pins import FREE_HEAP, board_spec
from tests.bench.report import Result
from tests.integration.vm.vm_node import board_heap_free, vm_board, vm_drive

NAME = "firmware-heap"
TITLE = "Firmware heap in steady state on CircuitPython 10.1.0's VM, per board"
ITERATIONS = 10_000
QUICK_ITERATIONS = 300
FAULTS = ("refuse", "blackhole", "down")
FAULT_S = 60.0
QUICK_FAULT_S = 10.0
ONLINE_S = 20.0
ONLINE_AFTER_S = 30.0
SAMPLE_EVERY_S = 2.0
SETTINGS = {"SAMPLE_PERIOD_S": "0.5", "RESET_AFTER_OFFLINE_S": 604800}
BOOT_WAIT_S = 120.0
BACKFILL_WAIT_S = 1800.0


@dataclass
class Run:
    board: str
    free_at_start: int
    capacity: int
    after_boot: int = 0
    online: list[int] = field(default_factory=list)
    filling: list[int] = field(default_factory=list)
    full: list[int] = field(default_factory=list)
    backfill: list[int] = field(default_factory=list)
    online_after: list[int] = field(default_factory=list)
    fill_s: float = 0.0
    iterations: int = 0
    longest_loop_s: dict[str, tuple[float, bool]] = field(default_factory=dict)
    """Per fault: the watchdog's longest gap after its phases, and whether they raised it."""
    resets: int = 0
    minutes: float = 0.0


class Bench:
    """One board on the VM, its heap read through the control socket."""

    def __init__(self, board: VirtualBoardProcess) -> None:
        self.board = board

    def heap(self) -> int:
        return board_heap_free(self.board)

    def net(self, state: str) -> None:
        self.board.control.send({"cmd": "net", "state": state})

    def feeds(self) -> int:
        return int(self.board.status()["vm"]["channel"]["feeds"])

    def longest_gap_s(self) -> float:
        return float(self.board.status()["watchdog"]["max_gap_s"])

    def sample_for(self, seconds: float, sink: list[int]) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            sink.append(self.heap())
            time.sleep(SAMPLE_EVERY_S)

    def sample_until(self, pattern: str, timeout: float, sink: list[int]) -> None:
        """Read the heap until a console line matches ``pattern``."""
        mark = self.board.mark()
        matches = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while not any(matches.search(line) for line in self.board.lines[mark:]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {pattern!r} in {timeout} s")
            sink.append(self.heap())
            time.sleep(SAMPLE_EVERY_S)


def measure(board_id: str, workdir: Path, iterations: int, fault_s: float) -> Run:
    run = Run(board_id, board_spec(board_id).free_heap_bytes, 0)
    started = time.monotonic()
    broker_dir = workdir / "broker"
    broker_dir.mkdir()
    with Mosquitto(broker_dir) as broker:
        drive = vm_drive(workdir / "drive", board_id, broker.port, **SETTINGS)
        with vm_board(drive, board_id) as board:
            bench = Bench(board)
            line = board.wait_for(r" INFO birth_published | ERROR reset ", BOOT_WAIT_S)
            assert "birth_published" in line, "\n".join(board.lines[-20:])
            settings_ok = board.wait_for(r" INFO settings_ok ", 1)
            run.capacity = int(re.findall(r"buffer_capacity\D*(\d+)", settings_ok)[0])
            run.after_boot = bench.heap()
            bench.sample_for(ONLINE_S, run.online)
            bench.net("refuse")
            filling = time.monotonic()
            bench.sample_until(r" WARN buffer_drop ", run.capacity * 0.5 + 120, run.filling)
            run.fill_s = time.monotonic() - filling
            first_feed = bench.feeds()
            gap = bench.longest_gap_s()
            phase = 0
            while bench.feeds() - first_feed < iterations:
                fault = FAULTS[phase % len(FAULTS)]
                bench.net(fault)
                bench.sample_for(fault_s, run.full)
                now = bench.longest_gap_s()
                seen, raised = run.longest_loop_s.get(fault, (0.0, False))
                run.longest_loop_s[fault] = (max(seen, now), raised or now > gap)
                gap = now
                phase += 1
            run.iterations = bench.feeds() - first_feed
            bench.net("up")
            bench.sample_until(r" INFO backfill_done ", BACKFILL_WAIT_S, run.backfill)
            bench.sample_for(ONLINE_AFTER_S, run.online_after)
            run.resets = int(board.status()["resets"])
            resets = [line for line in board.lines if " ERROR reset " in line]
            assert not resets, resets
    run.minutes = (time.monotonic() - started) / 60
    return run


def report(run: Run, result: Result) -> None:
    board = run.board
    result.add(f"{board}: free at code.py start", f"{run.free_at_start:,} B")
    result.add(
        f"{board}: after boot (imports, composition, connected)", f"{run.after_boot:,} B free"
    )
    result.add(f"{board}: online, lowest", f"{min(run.online):,} B free")
    result.add(
        f"{board}: buffer full ({run.capacity:,} readings), lowest",
        f"{min(run.full):,} B free over {run.iterations:,} iterations",
    )
    result.add(f"{board}: backfill, lowest", f"{min(run.backfill):,} B free")
    result.add(f"{board}: online after the backfill, lowest", f"{min(run.online_after):,} B free")
    result.add(
        f"{board}: net growth with the buffer full (first - last reading)",
        f"{run.full[0] - run.full[-1]:+,} B",
    )
    result.add(
        f"{board}: held after the outage (online before - online after, last readings)",
        f"{run.online[-1] - run.online_after[-1]:+,} B",
    )
    for fault, (seconds, raised) in run.longest_loop_s.items():
        bound = "" if raised else "at most "
        result.add(f"{board}: longest loop iteration, net {fault}", f"{bound}{seconds:.3f} s")
    result.add(
        f"{board}: run",
        f"buffer filled in {run.fill_s:.0f} s; {run.minutes:.1f} min in all; resets {run.resets}",
    )
    result.data[board] = asdict(run)


def run(quick: bool, minutes: float, boards: list[str] | None = None) -> Result:
    """``minutes`` does not apply: a board runs until its iterations are done."""
    result = Result(NAME, TITLE)
    iterations = QUICK_ITERATIONS if quick else ITERATIONS
    fault_s = QUICK_FAULT_S if quick else FAULT_S
    for board_id in boards or list(FREE_HEAP):
        with tempfile.TemporaryDirectory(prefix="bench-firmware-heap-") as tmp:
            report(measure(board_id, Path(tmp), iterations, fault_s), result)
        result.notes.append(f"{board_id}: {FREE_HEAP[board_id].source}")
    result.notes.append(
        f"{iterations:,} loop iterations with the buffer full under the faults "
        f"{', '.join(FAULTS)} in turn, {fault_s:.0f} s each; readings every 0.5 s; the heap is "
        f"gc.mem_free() after gc.collect() on the VM every {SAMPLE_EVERY_S:.0f} s."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.firmware_heap")
    parser.add_argument("boards", nargs="*", choices=list(FREE_HEAP), metavar="BOARD")
    parser.add_argument("--quick", action="store_true", help="short runs, to check they work")
    args = parser.parse_args(argv)
    run(args.quick, 0.0, args.boards or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
