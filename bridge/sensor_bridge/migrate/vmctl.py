"""vmctl's ``influx`` mode for one time chunk: the command line (a pure function) and the run.

vmctl reads every series of the listed measurements between the chunk's bounds (its time
filter is InfluxQL ``time >= start and time <= end``, both inclusive, so chunks end one
nanosecond before the next begins) and sends them to ``vm_addr``: here the relabeling proxy
(``sensor_bridge.migrate.relabel``), never VictoriaMetrics itself. The InfluxDB login goes in
vmctl's environment (``INFLUX_USERNAME``/``INFLUX_PASSWORD``), never on its command line,
which any user on the Pi can read.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sensor_bridge.migrate.influxql import InfluxSource, identifier
from sensor_bridge.migrate.plan import Chunk

SEPARATOR = "␟"
"""Between measurement and field in vmctl's series names: a printable character (vmctl writes
names with Go's %q, which would escape a control character in a way JSON cannot read) that no
InfluxDB name holds, so that the proxy splits the name back without guessing."""

RETRIES = 3
"""Import retries (vmctl's default, 10 with backoff, waits minutes on a proxy that refuses)."""


def nanosecond_time(ns: int) -> str:
    """``ns`` since the epoch as RFC 3339 with nanoseconds, as InfluxQL reads it."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


def series_filter(measurements: list[str]) -> str:
    """vmctl's ``--influx-filter-series``: only the measurements something is migrated from."""
    return "from " + ",".join(identifier(m) for m in measurements)


def argv(
    vmctl: Path,
    source: InfluxSource,
    measurements: list[str],
    chunk: Chunk,
    vm_addr: str,
) -> list[str]:
    """The vmctl command line that copies ``chunk`` to ``vm_addr``."""
    return [
        str(vmctl),
        "influx",
        "-s",
        "--disable-progress-bar",
        f"--influx-addr={source.url}",
        f"--influx-database={source.database}",
        f"--influx-retention-policy={source.retention_policy}",
        f"--influx-filter-series={series_filter(measurements)}",
        f"--influx-filter-time-start={nanosecond_time(chunk.start_ns)}",
        f"--influx-filter-time-end={nanosecond_time(chunk.end_ns)}",
        f"--influx-measurement-field-separator={SEPARATOR}",
        "--influx-skip-database-label",
        f"--vm-addr={vm_addr}",
        # Loopback to the proxy: compressing would only cost the Pi CPU.
        "--vm-compress=false",
        f"--vm-backoff-retries={RETRIES}",
        "--vm-backoff-min-duration=500ms",
    ]


@dataclass(frozen=True)
class VmctlRun:
    returncode: int
    output: str

    def last_lines(self, count: int = 2) -> str:
        return " | ".join(line.strip() for line in self.output.strip().splitlines()[-count:])


def run(args: list[str], auth: tuple[str, str] | None) -> VmctlRun:
    """Run vmctl to the end (stdin closed: it never waits for a prompt). On Ctrl-C, vmctl gets
    the signal too and ``subprocess.run`` kills what is left of it before re-raising."""
    env = {k: v for k, v in os.environ.items() if k not in ("INFLUX_USERNAME", "INFLUX_PASSWORD")}
    if auth is not None:
        env["INFLUX_USERNAME"], env["INFLUX_PASSWORD"] = auth
    done = subprocess.run(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        errors="replace",
        check=False,
    )
    return VmctlRun(done.returncode, done.stdout)
