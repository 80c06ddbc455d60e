"""What a benchmark hands back, percentiles, and the machine it ran on, as text and Markdown."""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sensor_bridge.checks.tools import tool_version
from sensor_bridge.local.pipeline import VectorPipeline
from sensor_bridge.local.tools import require_tool

HOST_TOOLS = ("mosquitto", "victoria-metrics", "vmalert", "prometheus-alertmanager")


@dataclass
class Result:
    """One benchmark's figures: ``rows`` for people (figure, value), ``data`` for programs."""

    name: str
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """How it was measured: what the figures mean and what stood in for what."""

    def add(self, figure: str, value: str) -> None:
        self.rows.append((figure, value))
        print(f"  {figure}: {value}", flush=True)


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95, min, max and the count of ``values`` (at least one)."""
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else []
    return {
        "n": len(ordered),
        "min": ordered[0],
        "p50": statistics.median(ordered),
        "p95": cuts[94] if cuts else ordered[0],
        "max": ordered[-1],
    }


def spread(stats: dict[str, float], unit: str = "s", digits: int = 2) -> str:
    def num(key: str) -> str:
        return f"{stats[key]:.{digits}f}"

    return (
        f"p50 {num('p50')} {unit}, p95 {num('p95')} {unit} "
        f"(min {num('min')}, max {num('max')}, n={stats['n']:.0f})"
    )


def machine() -> dict[str, str]:
    """CPU, cores, RAM, OS, Python, the host tools' package versions and the load right now."""
    load = os.getloadavg()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "ram": f"{_mem_total_kib() / 1024**2:.1f} GiB",
        "os": f"{_os_name()}, kernel {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        **{tool: tool_version(require_tool(tool)) for tool in HOST_TOOLS},
        "pipeline": _pipeline(),
        "load average at start": " ".join(f"{value:.2f}" for value in load),
    }


def _pipeline() -> str:
    if VectorPipeline.available():
        return "vector"
    runtime = f"vrl-python {metadata.version('vrl-python')}"
    return f"forwarder (rendered VRL on {runtime}; Vector not installed)"


def _cpu_model() -> str:
    info = Path("/proc/cpuinfo").read_text()
    for key in ("model name", "Model", "Hardware"):
        for line in info.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or "?"


def _mem_total_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _os_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip('"')
    return platform.system()


def markdown(results: list[Result], host: dict[str, str], command: str) -> str:
    """A docs/benchmarks.md section: the machine, then one table per benchmark."""
    lines = [f"## Run of {host['date']}", "", f"`{command}`", "", "| machine | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in host.items() if key != "date"]
    for result in results:
        lines += ["", f"### {result.title}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {figure} | {value} |" for figure, value in result.rows]
        if result.notes:
            lines += ["", *(f"- {note}" for note in result.notes)]
    return "\n".join(lines) + "\n"
