"""``alerts replay``: the rendered rules over stored history, with vmalert's replay mode.

vmalert evaluates every rule over ``[from, to]`` with ``/query_range`` at each group's interval
and writes the resulting ``ALERTS`` series back to VictoriaMetrics (no notification is sent).
Each run's series carry ``replay=<run id>``, so they never mix with the live vmalert's; the
firing ones are read back raw (the store's export) and folded into intervals per alert.
"""

from __future__ import annotations

import itertools
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sensor_bridge.alerting import alerts
from sensor_bridge.alerting.rules import rules_yaml
from sensor_bridge.checks.process import free_port
from sensor_bridge.checks.tools import find_tool
from sensor_bridge.errors import BridgeError
from sensor_bridge.site import Site
from sensor_bridge.store.client import Store
from sensor_bridge.store.urls import StoreUrls

REPLAY_LABEL = "replay"
TIMEOUT_S = 1800
_GAP_FACTOR = 2
"""Two firing samples further apart than this many group intervals start a new interval."""


def replay_rules(
    site: Site, time_from: datetime, time_to: datetime, urls: StoreUrls
) -> Iterator[str]:
    """Lines to print: one per alert interval that would have fired, then a summary."""
    start, end = _utc(time_from), _utc(time_to)
    if end <= start:
        raise BridgeError("alerts replay: --to must be after --from")
    store = Store(urls)
    run_id = uuid.uuid4().hex[:12]
    _run_vmalert(site, urls, start, end, run_id)
    store.flush()
    firing = f'ALERTS{{{REPLAY_LABEL}="{run_id}",alertstate="firing"}}'
    series: dict[tuple[tuple[str, str], ...], list[float]] = {}
    for line in store.export(firing, start.timestamp(), end.timestamp() + 3600):
        stamps = series.setdefault(tuple(sorted(line["metric"].items())), [])
        stamps += (ms / 1000 for ms in line["timestamps"])
    intervals = sorted(
        (begin, finish, _describe(dict(labels)))
        for labels, stamps in series.items()
        for begin, finish in _intervals(sorted(stamps))
    )
    for begin, finish, what in intervals:
        yield f"{_iso(begin)}  {_iso(finish)}  {what}"
    yield (
        f"{len(intervals)} alert intervals from {_iso(start.timestamp())} to "
        f'{_iso(end.timestamp())} (ALERTS{{{REPLAY_LABEL}="{run_id}"}} in {urls})'
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run_vmalert(site: Site, urls: StoreUrls, start: datetime, end: datetime, run_id: str) -> None:
    tool = find_tool("vmalert")
    if tool is None:
        raise BridgeError(
            "vmalert is not installed: run scripts/tool-cache (or apt-get install "
            "victoria-metrics on Debian 13)"
        )
    with tempfile.TemporaryDirectory(prefix="sensor-bridge-replay-") as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(rules_yaml(site))
        argv = [
            str(tool),
            f"-rule={rules}",
            f"-datasource.url={urls.select}",
            f"-remoteWrite.url={urls.insert}",
            f"-external.label={alerts.STUDIO_LABEL}={site.studio}",
            f"-external.label={REPLAY_LABEL}={run_id}",
            f"-replay.timeFrom={start.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            f"-replay.timeTo={end.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            "-replay.disableProgressBar",
            # No recording rules feed the alerts: no need to wait between rules.
            "-replay.rulesDelay=0",
            # Never the live vmalert's port.
            f"-httpListenAddr=127.0.0.1:{free_port()}",
            "-loggerLevel=ERROR",
        ]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if run.returncode != 0:
        lines = [line for line in (run.stderr + run.stdout).splitlines() if line.strip()]
        raise BridgeError(f"vmalert replay failed: {lines[-1] if lines else run.returncode}")


def _intervals(stamps: list[float]) -> list[tuple[float, float]]:
    """Consecutive firing samples folded into (first, last) intervals."""
    if not stamps:
        return []
    steps = [b - a for a, b in itertools.pairwise(stamps)]
    step = min(steps) if steps else 0.0
    intervals = []
    begin = previous = stamps[0]
    for stamp in stamps[1:]:
        if stamp - previous > _GAP_FACTOR * step:
            intervals.append((begin, previous))
            begin = stamp
        previous = stamp
    intervals.append((begin, previous))
    return intervals


def _describe(metric: dict[str, str]) -> str:
    hidden = {"__name__", "alertstate", REPLAY_LABEL, "alertgroup"}
    labels = " ".join(
        f"{k}={v}" for k, v in sorted(metric.items()) if k not in hidden | {"alertname"}
    )
    return f"{metric.get('alertname', '?')}  {labels}"
