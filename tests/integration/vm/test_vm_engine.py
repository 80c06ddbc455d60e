"""The vm engine's own rules: its heap size, what it refuses, and a missing VM."""

from __future__ import annotations

import bisect
import itertools
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sensor_bridge.virtual.vm.heapsize import STEP, CalibrationError, calibrate

VM_TABLES = 524 / 512
"""Heap per byte of free pool (py/gc.c: allocation and finaliser tables)."""


def _like_the_vm(vm_bytes: int) -> Callable[[int], int]:
    """``gc.mem_free()`` at start for a heap size: the pool less what the VM keeps, in steps
    of 4 blocks as the allocation table goes."""

    def measure(heapsize: int) -> int:
        return int(heapsize / VM_TABLES - vm_bytes) // STEP * STEP

    return measure


@pytest.mark.parametrize("target", [126_112, 262_144, 2_043_120])
@pytest.mark.parametrize("vm_bytes", [4_900, 52_000])
def test_calibration_reaches_the_board_figure(target: int, vm_bytes: int) -> None:
    measure = _like_the_vm(vm_bytes)
    heapsize, free = calibrate(target, measure)
    assert free == measure(heapsize)
    assert 0 <= target - free < STEP


def test_calibration_takes_the_largest_figure_below_uneven_steps() -> None:
    # The VM's own allocations shift with the heap size: some steps are several blocks.
    rng = random.Random(12)
    edges = list(itertools.accumulate(rng.choice((48, 64, 64, 144, 208)) for _ in range(60_000)))

    def measure(heapsize: int) -> int:
        return bisect.bisect_right(edges, heapsize - 60_000) * STEP

    target = 126_112
    heapsize, free = calibrate(target, measure)
    assert free == measure(heapsize) <= target < measure(heapsize + 16)


def test_calibration_that_cannot_converge_says_what_it_tried() -> None:
    with pytest.raises(CalibrationError, match="tried"):
        calibrate(126_112, lambda heapsize: 0)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sensor_bridge.virtual", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--speed", "5"], "--speed"),
        (["--trace-allocations"], "--trace-allocations"),
    ],
)
def test_vm_engine_refuses_what_it_cannot_do(
    tmp_path: Path, options: list[str], named: str
) -> None:
    result = _run("--drive", str(tmp_path), "--engine", "vm", *options)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert named in error and "--engine cpython" in error
    assert "Traceback" not in result.stderr


def test_missing_vm_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    env = {**os.environ, "CIRCUITPYTHON_TOOLS": str(empty)}
    result = _run(
        "--drive", str(tmp_path), "--board", "raspberry_pi_pico_w", "--engine", "vm", env=env
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "circuitpython-mcu not found" in result.stderr and "CIRCUITPYTHON_TOOLS" in result.stderr
