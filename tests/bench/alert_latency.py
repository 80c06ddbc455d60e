"""Alert latency: a furnace's flame goes out → the FlameOut notification at the owner's webhook.

The whole chain on the example site's rendered settings (LocalStack: Mosquitto, pipeline,
VictoriaMetrics, vmalert, Alertmanager, a receiver standing in for Grafana IRM), fed by the
site's two devices running the real firmware on virtual boards at speed 1 and the default
sample period. Each run puts one board's flame out at a random moment (its furnace model's
rod reads ~0.05 V from then on) and times it from that command to the notification's arrival;
then relights it. The devices take turns; a device's next run waits for the all-clear of its
last one, so that each flame out opens a new Alertmanager group, as a real one does.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sensor_bridge.alerting import alerts, promql
from sensor_bridge.local.receiver import Notified
from sensor_bridge.local.stack import LocalStack
from sensor_bridge.render import alertmanager
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from tests.bench.chain import SEQUENCE, bench_context, furnaces, stored_samples
from tests.bench.report import Result, percentiles, spread

NAME = "alerts"
TITLE = "Alert latency: flame out → the owner's receiver"
SAMPLE_PERIOD_S = 5.0
"""The firmware's default: a flame out happens anywhere between two samples."""
WARM_UP_S = 20.0
"""Rules started; the flame-out window filled with lit samples."""
FIRING_TIMEOUT_S = 60.0
RESOLVED_TIMEOUT_S = 60.0
"""The all-clear: the flame-out window filled with lit samples again, then the shop group's
group_interval. The device's next flame out lands in the same Alertmanager group, as a
furnace's that goes out again soon after relighting does."""


def run(quick: bool, minutes: float) -> Result:
    runs = 2 if quick else 10
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        workdir = Path(tmp)
        with (
            LocalStack(bench_context(workdir / "site"), workdir, defer_rules=True) as stack,
            furnaces(stack.context, stack.board_port, workdir) as boards,
        ):
            _wait_stored(stack, list(boards))
            stack.start_rules()
            time.sleep(WARM_UP_S)
            print(f"  pipeline {stack.pipeline_kind}; {runs} runs over {list(boards)}")
            latencies, from_dark = _runs(stack, boards, runs)
            kind = stack.pipeline_kind
            hold = stack.site.devices[0].thresholds.flame_out_for
    result = Result(NAME, TITLE)
    if not latencies:
        raise RuntimeError("no flame out reached the receiver")
    figures = percentiles(latencies)
    dark = percentiles(from_dark)
    result.data = {"latency": figures, "from_first_dark_sample": dark, "runs": runs}
    result.add("flame out → owner's receiver", spread(figures, digits=1))
    result.add("first dark sample taken → owner's receiver", spread(dark, digits=1))
    result.add("runs arrived", f"{len(latencies)}/{runs}")
    result.notes.append(
        f"Real firmware on two virtual boards (speed 1, 5 s samples), pipeline {kind}, the "
        f"example site's rendered rules and paging (flame_out_for {hold}); timed from the "
        "flame-out command to the webhook's arrival at the stand-in for IRM, and from the "
        "first dark sample's timestamp (which comes 0-5 s after the flame out)."
    )
    return result


def _wait_stored(stack: LocalStack, devices: list[str], timeout: float = 60.0) -> None:
    """vmalert starts once every device has readings, as on a Pi with history."""
    deadline = time.monotonic() + timeout
    while set(devices) - set(stored_samples(stack.storage, SEQUENCE)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no readings stored from {devices} in {timeout} s")
        time.sleep(0.5)


def _runs(
    stack: LocalStack, boards: dict[str, VirtualBoardProcess], runs: int
) -> tuple[list[float], list[float]]:
    """Seconds from each flame out, and from its first dark sample, to the notification."""
    receiver = stack.receiver
    relit: dict[str, int] = {}
    """Device → the notification count when it was last relit (its all-clear comes later)."""
    latencies, from_dark = [], []
    for run in range(1, runs + 1):
        device = list(boards)[(run - 1) % len(boards)]
        if device in relit and not receiver.wait_for(
            _found(device, "resolved", relit[device]), RESOLVED_TIMEOUT_S
        ):
            print(f"  run {run}: {device}: no all-clear of the last run; stopping")
            break
        time.sleep(random.uniform(0, SAMPLE_PERIOD_S))
        since = len(receiver.notified())
        out_at, out_wall = time.monotonic(), time.time()
        boards[device].control.send({"cmd": "furnace", "flame": "out"})
        arrived = receiver.wait_for(_found(device, "firing", since), FIRING_TIMEOUT_S)
        boards[device].control.send({"cmd": "furnace", "flame": "lit"})
        relit[device] = len(receiver.notified())
        if not arrived:
            print(f"  run {run}: {device}: no FlameOut within {FIRING_TIMEOUT_S:.0f} s")
            continue
        notified = receiver.notified()[since:]
        at = next(n.at for n in notified if _is_flame_out(n, device, "firing"))
        latencies.append(at - out_at)
        dark_s = _first_dark(stack, device, out_wall)
        from_dark.append(at - out_at + out_wall - dark_s)
        print(
            f"  run {run:2}: {device}: flame out → owner's receiver in {at - out_at:5.1f} s "
            f"(from the first dark sample {from_dark[-1]:4.1f} s)"
        )
    return latencies, from_dark


def _first_dark(stack: LocalStack, device: str, since_s: float) -> float:
    """The timestamp (s) of ``device``'s first stored flame sample below the flame-out limit
    taken after ``since_s``."""
    limit = next(d for d in stack.site.devices if d.id == device).thresholds.flame_min_v
    match = f'{{__name__="{promql.FLAME}",device="{device}"}}'
    (series,) = stack.storage.export(match)
    return min(
        stamp / 1000
        for stamp, value in zip(series["timestamps"], series["values"], strict=True)
        if stamp / 1000 >= since_s and value < limit
    )


def _found(device: str, status: str, since: int) -> Callable[[list[Notified]], bool]:
    def found(notified: list[Notified]) -> bool:
        return any(_is_flame_out(n, device, status) for n in notified[since:])

    return found


def _is_flame_out(notified: Notified, device: str, status: str) -> bool:
    return (
        notified.path == alertmanager.OWNER
        and notified.status == status
        and notified.labels.get("alertname") == alerts.FLAME_OUT
        and notified.labels.get(alerts.DEVICE_LABEL) == device
    )
