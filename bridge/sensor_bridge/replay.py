"""``alerts replay``: the rendered rules over stored history, with vmalert's replay mode.

vmalert evaluates every rule over ``[from, to]`` with ``/query_range`` at each group's interval
and writes the resulting ``ALERTS`` series back to VictoriaMetrics (no notification is sent).
Each run's series carry ``replay=<run id>``, so they never mix with the live vmalert's; the
firing ones are read back raw (``/api/v1/export``) and folded into intervals per alert.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import tempfile
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sensor_bridge.alerting import alerts
from sensor_bridge.alerting.rules import rules_yaml
from sensor_bridge.checks.process import free_port
from sensor_bridge.checks.tools import find_tool
from sensor_bridge.errors import BridgeError
from sensor_bridge.render import victoriametrics
from sensor_bridge.site import Site

REPLAY_LABEL = "replay"
TIMEOUT_S = 1800
_GAP_FACTOR = 2
"""Two firing samples further apart than this many group intervals start a new interval."""


def replay_rules(
    site: Site, time_from: datetime, time_to: datetime, url: str | None = None
) -> Iterator[str]:
    """Lines to print: one per alert interval that would have fired, then a summary."""
    start, end = _utc(time_from), _utc(time_to)
    if end <= start:
        raise BridgeError("alerts replay: --to must be after --from")
    base = (url or f"http://{victoriametrics.LISTEN}").rstrip("/")
    run_id = uuid.uuid4().hex[:12]
    _run_vmalert(site, base, start, end, run_id)
    _get(base, "/internal/force_flush")
    series = _export(base, f'ALERTS{{{REPLAY_LABEL}="{run_id}",alertstate="firing"}}', start, end)
    intervals = sorted(
        (begin, finish, _describe(metric))
        for metric, stamps in series
        for begin, finish in _intervals(stamps)
    )
    for begin, finish, what in intervals:
        yield f"{_iso(begin)}  {_iso(finish)}  {what}"
    yield (
        f"{len(intervals)} alert intervals from {_iso(start.timestamp())} to "
        f'{_iso(end.timestamp())} (ALERTS{{{REPLAY_LABEL}="{run_id}"}} in VictoriaMetrics)'
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run_vmalert(site: Site, base: str, start: datetime, end: datetime, run_id: str) -> None:
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
            f"-datasource.url={base}",
            f"-remoteWrite.url={base}",
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


def _get(base: str, path: str, params: dict[str, str] | None = None) -> str:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    try:
        with urllib.request.urlopen(f"{base}{path}{query}", timeout=60) as response:
            text: str = response.read().decode()
            return text
    except OSError as error:
        raise BridgeError(f"cannot read {base}{path}: {error}") from None


def _export(
    base: str, match: str, start: datetime, end: datetime
) -> list[tuple[dict[str, str], list[float]]]:
    text = _get(
        base,
        "/api/v1/export",
        {"match[]": match, "start": str(start.timestamp()), "end": str(end.timestamp() + 3600)},
    )
    found = []
    for line in text.splitlines():
        if line.strip():
            item = json.loads(line)
            found.append((item["metric"], sorted(ms / 1000 for ms in item["timestamps"])))
    return found


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
