"""`sensor-bridge demo` end to end, as a user runs it: the real stack, two virtual
furnaces, a flame out paged to the owner; every process gone afterwards, also after Ctrl-C.

Every process the demo starts has the run's temp dir in its command line (the temp dir is
this test's, through TMPDIR), so /proc tells whether any is left.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.slow

READINGS = re.compile(r"^readings (\S+): published (\d+), stored (\d+)", re.MULTILINE)
FLAME_OUT_PAGED = re.compile(
    r"^alert FlameOut glory-hole \(shop → owner\); paged ([\d.]+) s after "
    r"'glory-hole: flame out'",
    re.MULTILINE,
)
PIPELINE = re.compile(r"pipeline: (vector|forwarder \(Vector not installed\))$", re.MULTILINE)


def _processes_of(marker: str) -> list[str]:
    """Command lines of running processes that mention ``marker`` or run in a directory under
    it (CircuitPython's VM runs in its drive, which its command line does not name)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if marker in line or cwd.startswith(marker):
            found.append(f"{line} (in {cwd})")
    return found


def _start_demo(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    return subprocess.Popen(
        [sys.executable, "-m", "sensor_bridge", "demo", "--out", str(tmp_path / "out"), *args],
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Its own process group, like a command in a terminal (Ctrl-C goes to the group).
        start_new_session=True,
    )


def _read_until(demo: subprocess.Popen[str], pattern: str, seen: list[str]) -> None:
    assert demo.stdout is not None
    for line in demo.stdout:
        seen.append(line)
        if re.search(pattern, line):
            return
    raise AssertionError(f"the demo ended before {pattern!r}:\n{''.join(seen)}")


def _finish(demo: subprocess.Popen[str], seen: list[str], timeout: float) -> str:
    assert demo.stdout is not None
    try:
        rest, _ = demo.communicate(timeout=timeout)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    return "".join(seen) + rest


def _check_summary(output: str, tmp_path: Path, scenario: str) -> None:
    counts = {device: (int(sent), int(stored)) for device, sent, stored in READINGS.findall(output)}
    assert set(counts) == {"furnace-1", "glory-hole"}, output
    for device, (sent, stored) in counts.items():
        assert sent > 0, (device, output)
        assert stored == sent, (device, output)
    assert PIPELINE.search(output), output
    plot = tmp_path / "out" / f"{scenario}.png"
    assert f"plot: {plot}" in output
    with Image.open(plot) as image:
        assert image.format == "PNG"
        assert image.size[0] > 500 and image.size[1] > 300
        image.verify()
    assert (tmp_path / "out" / f"{scenario}-summary.txt").read_text().startswith("summary: ")


def test_a_flame_out_run_pages_the_owner_and_leaves_nothing_behind(tmp_path: Path) -> None:
    demo = _start_demo(tmp_path, "--scenario", "flame-out", "--duration", "25", "--no-live")
    seen: list[str] = []
    _read_until(demo, r"step: glory-hole: flame out", seen)
    running = _processes_of(str(tmp_path))
    # The command and its engine, Mosquitto, VictoriaMetrics, Alertmanager, vmalert, 2 boards.
    assert len(running) >= 8, running
    # The glory hole, whose flame goes out, runs the .mpy bundle on CircuitPython's own VM.
    assert any("circuitpython-mcu" in line and line.endswith("glory-hole)") for line in running), (
        running
    )
    assert (
        "glory-hole: a virtual adafruit_feather_esp32s3_4mbflash_2mbpsram boots the firmware "
        "(the .mpy bundle on CircuitPython 10.1's own VM" in "".join(seen)
    )
    output = _finish(demo, seen, timeout=90)
    assert demo.returncode == 0, output
    assert "summary: scenario 'flame-out' completed" in output
    paged = FLAME_OUT_PAGED.search(output)
    assert paged is not None, output
    assert float(paged.group(1)) < 23
    _check_summary(output, tmp_path, "flame-out")
    assert _processes_of(str(tmp_path)) == []


def test_ctrl_c_stops_everything_and_still_summarises(tmp_path: Path) -> None:
    demo = _start_demo(tmp_path, "--no-live")
    seen: list[str] = []
    _read_until(demo, r"both furnaces publish", seen)
    time.sleep(1)
    # What a terminal does on Ctrl-C: SIGINT to the foreground process group.
    os.killpg(demo.pid, signal.SIGINT)
    output = _finish(demo, seen, timeout=60)
    assert demo.returncode == 130, output
    assert "summary: scenario 'story' interrupted" in output
    _check_summary(output, tmp_path, "story")
    assert _processes_of(str(tmp_path)) == []
