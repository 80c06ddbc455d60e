"""Footprint: resident memory of each host service, and the total, after N minutes of 2 devices.

The chain runs in a process of its own (``StackProcess``); the example site's two devices run
the real firmware on virtual boards at speed 1 in this one's children. After ``--minutes`` the
resident set (VmRSS) and its peak (VmHWM) of every service is read from /proc: the stack
process's children by program name, and the stack process itself, which without Vector holds
the forwarder standing in for it (with the local prober and webhook receiver: an upper bound for
the pipeline's part).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sensor_bridge.store.client import Store
from tests.bench.chain import SEQUENCE, bench_context, furnaces, stored_samples
from tests.bench.report import Result
from tests.bench.stack_process import StackProcess

NAME = "footprint"
TITLE = "Footprint: resident memory of the host services"
QUICK_MINUTES = 1.0
SERVICES = {
    "mosquitto": "mosquitto",
    "victoria-metrics": "victoria-metrics",
    "vmalert": "vmalert",
    "prometheus-alertmanager": "alertmanager",
    "alertmanager": "alertmanager",
    "vector": "pipeline (vector)",
}
"""Program name → what it is on the Pi."""


def run(quick: bool, minutes: float) -> Result:
    minutes = QUICK_MINUTES if quick else minutes
    result = Result(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp:
        workdir = Path(tmp)
        context = bench_context(workdir / "boards-site")
        with (
            StackProcess(workdir / "stack") as stack,
            furnaces(context, stack.broker_port, workdir),
        ):
            kind = stack.info["pipeline"]
            _wait_stored(stack.store, [d.id for d in context.site.devices])
            stack.start_rules()
            print(f"  2 virtual furnaces, pipeline {kind}; waiting {minutes:g} min", flush=True)
            time.sleep(minutes * 60)
            memory = _services(stack.pid, kind)
    total = sum(rss for rss, _ in memory.values())
    result.data = {"kib": memory, "total_kib": total, "minutes": minutes}
    for name, (rss, peak) in memory.items():
        result.add(name, f"{rss / 1024:.1f} MiB (peak {peak / 1024:.1f} MiB)")
    result.add("total", f"{total / 1024:.1f} MiB")
    result.notes.append(
        f"VmRSS (VmHWM: the peak) from /proc after {minutes:g} min of 2 virtual furnaces at "
        f"the default sample period, vmalert evaluating the rendered rules. Pipeline: {kind}"
        + (
            "; the forwarder runs in the benchmark's stack process, measured with its prober "
            "and webhook receiver (Python interpreter included): Vector's own figure will differ."
            if kind == "forwarder"
            else "."
        )
    )
    return result


def _wait_stored(store: Store, devices: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while set(devices) - set(stored_samples(store, SEQUENCE)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no readings stored from {devices} in {timeout} s")
        time.sleep(0.5)


def _services(stack_pid: int, pipeline_kind: str) -> dict[str, tuple[int, int]]:
    """Service → (VmRSS, VmHWM) in KiB."""
    memory = {}
    for pid in _children(stack_pid):
        name = SERVICES.get(_program(pid))
        if name is not None:
            memory[name] = _memory_kib(pid)
    if pipeline_kind == "forwarder":
        memory["pipeline (forwarder process)"] = _memory_kib(stack_pid)
    missing = set(SERVICES.values()) - set(memory) - {"pipeline (vector)"}
    if missing:
        raise RuntimeError(f"not found among the stack's processes: {sorted(missing)}")
    return memory


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name is in parentheses and may hold spaces: the ppid follows it.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _program(pid: int) -> str:
    argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    return Path(argv0).name


def _memory_kib(pid: int) -> tuple[int, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0])
    return values["VmRSS"], values["VmHWM"]
