"""Alert latency: a flame out in the data → its notification at the owner's webhook, through a
real VictoriaMetrics, vmalert and Alertmanager, each with the rendered settings.

A writer stands in for the pipeline: every 5 s (the devices' sample period) it writes each
device's reading, stamped with the time it was taken, as Vector would. Each run turns one more
device's flame out at a random moment; its latency is from the first dark sample's timestamp to
the FlameOut notification's arrival at the receiver (standing in for Grafana IRM). A device per
run: each flame out opens a new Alertmanager group, as a real one does.

    hatch run bench-alerts [--runs N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sensor_bridge import alerts
from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.local.alertmanager import Alertmanager, routed_to
from sensor_bridge.local.receiver import Notified, WebhookReceiver
from sensor_bridge.local.tools import require_tool
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.render import RenderContext, alertmanager, victoriametrics, vmalert
from sensor_bridge.tree import write_tree
from tests.support import remote_write
from tests.support.sites import example_context

SAMPLE_PERIOD_S = 5.0
TICK_S = 0.1
WARM_UP_S = 20.0
TIMEOUT_S = 60.0


class Writer:
    """Every device's readings, every SAMPLE_PERIOD_S, stamped now; dark devices read 0.05 V."""

    def __init__(self, url: str, studio: str, devices: list[str]) -> None:
        self.url = f"{url}/api/v1/write"
        self.studio = studio
        self.devices = devices
        self.dark: dict[str, float | None] = {}
        """Device → timestamp (s) of its first dark sample, once written."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._seq = 0

    def turn_out(self, device: str) -> None:
        with self._lock:
            self.dark[device] = None

    def first_dark(self, device: str) -> float | None:
        with self._lock:
            return self.dark.get(device)

    def _run(self) -> None:
        # Each device samples on its own phase, as real ones do: relative to vmalert's
        # evaluation ticks, a flame out lands anywhere.
        due = {device: time.time() + random.uniform(0, SAMPLE_PERIOD_S) for device in self.devices}
        while not self._stop.is_set():
            now = time.time()
            series = []
            with self._lock:
                for device in [d for d, at in due.items() if at <= now]:
                    due[device] += SAMPLE_PERIOD_S
                    series += self._readings(device, now)
            if series:
                remote_write.write(self.url, series)
            self._stop.wait(TICK_S)

    def _readings(self, device: str, now: float) -> list[remote_write.Series]:
        labels = {"studio": self.studio, "device": device}
        dark = device in self.dark
        if dark and self.dark[device] is None:
            self.dark[device] = now
        stamp = int(now * 1000)
        self._seq += 1
        flame = 0.05 if dark else 3.5 + random.gauss(0, 0.1)
        return [
            remote_write.Series({"__name__": vmalert.FLAME, **labels}, [(stamp, flame)]),
            remote_write.Series({"__name__": vmalert.TEMPERATURE, **labels}, [(stamp, 1100.0)]),
            remote_write.Series(
                {"__name__": vmalert.SEQUENCE, **labels}, [(stamp, float(self._seq))]
            ),
        ]

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _arrived(device: str) -> Callable[[list[Notified]], bool]:
    def found(notified: list[Notified]) -> bool:
        return any(_is_flame_out(n, device) for n in notified)

    return found


def _is_flame_out(notified: Notified, device: str) -> bool:
    return (
        notified.path == alertmanager.OWNER
        and notified.status == "firing"
        and notified.labels.get("alertname") == alerts.FLAME_OUT
        and notified.labels.get(alerts.DEVICE_LABEL) == device
    )


def bench(runs: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        workdir = Path(tmp)
        example = example_context(workdir / "site")
        first = example.site.devices[0]
        devices = [first.model_copy(update={"id": f"bench-{i}"}) for i in range(runs)]
        site = example.site.model_copy(update={"devices": devices})
        with WebhookReceiver() as receiver:
            context = routed_to(
                RenderContext(site, example.secrets), receiver, settings=site.alertmanager
            )
            files = [
                *victoriametrics.render(context),
                *alertmanager.render(context),
                *vmalert.render(context),
            ]
            root = workdir / "root"
            write_tree(root, files)
            vm_unit = next(f for f in files if f.check == victoriametrics.NAME)
            with (
                VictoriaMetrics(workdir, vm_unit.text) as storage,
                Alertmanager(workdir / "am", root) as manager,
            ):
                argv = vmalert.flags(
                    site,
                    rule_file=str(root / vmalert.rules_path(site)),
                    datasource_url=storage.url,
                    notifier_url=manager.url,
                    listen=f"127.0.0.1:{free_port()}",
                )
                print("vmalert", " ".join(argv))
                with (
                    Service([require_tool("vmalert"), *argv], workdir / "vmalert.log"),
                    Writer(storage.url, site.studio, [d.id for d in devices]) as writer,
                ):
                    time.sleep(WARM_UP_S)
                    return _runs(receiver, writer, [d.id for d in devices])


def _runs(receiver: WebhookReceiver, writer: Writer, devices: list[str]) -> list[float]:
    # Notified.at is monotonic; samples are stamped with the wall clock.
    wall_minus_monotonic = time.time() - time.monotonic()
    latencies = []
    for run, device in enumerate(devices, 1):
        time.sleep(random.uniform(0, SAMPLE_PERIOD_S))
        writer.turn_out(device)
        if not receiver.wait_for(_arrived(device), TIMEOUT_S):
            print(f"run {run}: no FlameOut notification for {device} within {TIMEOUT_S:.0f} s")
            continue
        arrival = next(n.at for n in receiver.notified() if _is_flame_out(n, device))
        first_dark = writer.first_dark(device)
        assert first_dark is not None
        latency = arrival + wall_minus_monotonic - first_dark
        latencies.append(latency)
        print(f"run {run:2}: {device}: flame out → owner's receiver in {latency:5.1f} s")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    latencies = bench(args.runs)
    if len(latencies) < 2:
        raise SystemExit("too few runs arrived to compute percentiles")
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    print(
        f"flame-out latency over {len(latencies)}/{args.runs} runs: "
        f"p50 {statistics.median(latencies):.1f} s, p95 {cuts[94]:.1f} s, "
        f"max {max(latencies):.1f} s (goal: p95 ≤ 20 s)"
    )


if __name__ == "__main__":
    main()
