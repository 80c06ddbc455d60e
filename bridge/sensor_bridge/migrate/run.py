"""Running the plan: the target's deduplication checked first, then vmctl chunk by chunk through
the relabeling proxy, each chunk recorded once every sample the plan counted in it went
through, a progress line per chunk; at the end the new samples made visible to queries.

Nothing is stored twice: a chunk done is skipped on the next run, and a chunk run again (after
an interruption, or with ``--fresh``) rewrites samples with the timestamps VictoriaMetrics
already holds, which ``-dedup.minScrapeInterval`` (rendered as 1ms by
``sensor_bridge.render.victoriametrics``) keeps once. Without that flag VictoriaMetrics stores
identical samples twice, so a target running without it is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sensor_bridge.errors import BridgeError
from sensor_bridge.migrate import vmctl
from sensor_bridge.migrate.mapping import NameMap
from sensor_bridge.migrate.plan import Plan
from sensor_bridge.migrate.relabel import RelabelProxy, limits_of
from sensor_bridge.migrate.state import ChunkLog
from sensor_bridge.store.client import Store, StoreError


def require_dedup(store: Store) -> str:
    interval = store.dedup_interval()
    if interval is None:
        raise BridgeError(
            f"VictoriaMetrics at {store.urls} runs without -dedup.minScrapeInterval: a chunk run "
            "twice would store its samples twice; deploy the rendered unit (it sets 1ms) first"
        )
    return interval


def find_vmctl() -> tuple[Path, str]:
    """vmctl (the tool cache's in tests, Debian's on the Pi) and its package version."""
    from sensor_bridge.checks.tools import find_tool, tool_version

    path = find_tool("vmctl")
    if path is None:
        raise BridgeError(
            "vmctl is not installed: apt-get install victoria-metrics (Debian 13's 1.112 is the "
            "version tested; Debian 12's 1.79.5 needs a terminal)"
        )
    return path, tool_version(path)


@dataclass
class Progress:
    """How far a run got: chunks done now, skipped (done before), failed."""

    done: int = 0
    skipped: int = 0
    samples: int = 0
    failed: str | None = None


def migrate_chunks(
    plan: Plan,
    *,
    names: NameMap,
    store: Store,
    log: ChunkLog,
    vmctl_path: Path,
    auth: tuple[str, str] | None,
    echo: Callable[[str], None],
    progress: Progress,
) -> None:
    """Copy every chunk not done yet; stops at the first chunk that fails (``progress.failed``)."""
    total = len(plan.chunks)
    with RelabelProxy(names, store, limits_of(plan.live)) as proxy:
        for chunk in plan.chunks:
            label = f"chunk {chunk.index}/{total} {chunk.describe()}"
            record = log.done(chunk)
            if record is not None:
                progress.skipped += 1
                progress.samples += chunk.expected
                echo(f"{label}: done earlier ({record['done_at']}), skipped")
                continue
            proxy.reset()
            began = time.monotonic()
            args = vmctl.argv(vmctl_path, plan.source, plan.measurements, chunk, proxy.url)
            result = vmctl.run(args, auth)
            seconds = time.monotonic() - began
            if result.returncode != 0 or proxy.error is not None:
                progress.failed = (
                    f"{label}: {proxy.error or 'vmctl failed'} (vmctl: {result.last_lines()})"
                )
                echo(progress.failed)
                return
            if proxy.samples != chunk.expected:
                echo(
                    f"{label}: {proxy.samples} samples went through, InfluxDB counts "
                    f"{chunk.expected}: not recorded as done (the verification will tell)"
                )
                continue
            log.record(chunk, seconds)
            progress.done += 1
            progress.samples += chunk.expected
            share = 100 * progress.samples / plan.samples if plan.samples else 100.0
            echo(
                f"{label}: {chunk.expected} samples in {seconds:.1f} s "
                f"({progress.samples}/{plan.samples}, {share:.0f} %)"
            )


def make_visible(store: Store) -> None:
    """Make the imported samples searchable now and drop cached query results that predate
    them (a backfill is otherwise hidden behind the rollup cache). A store that refuses
    either (one that wants an auth key for it) only delays what queries see."""
    for step in (store.flush, store.reset_cache):
        try:
            step()
        except StoreError as error:
            if error.status is None:
                raise
