"""The chain the benchmarks measure: the example site on a LocalStack, its devices as virtual
furnaces running the real firmware, and the stored series read back from VictoriaMetrics."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sensor_bridge.alerting import promql
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.furnaces import virtual_furnace
from sensor_bridge.render import RenderContext
from sensor_bridge.store.client import Store
from sensor_bridge.virtual.launcher import VirtualBoardProcess

BOOT_TIMEOUT_S = 60.0


def bench_context(directory: Path, devices: int = 0) -> RenderContext:
    """The example site; with ``devices`` > 0, that many devices ``bench-01``... instead, each
    a copy of the example's last device (no night-time thresholds) with its own password."""
    context = example_context(directory)
    if not devices:
        return context
    model = context.site.devices[-1]
    ids = [f"bench-{n:02}" for n in range(1, devices + 1)]
    site = context.site.model_copy(
        update={"devices": [model.model_copy(update={"id": i, "name": i}) for i in ids]}
    )
    mqtt = context.secrets.mqtt.model_copy(update={"devices": {i: f"bench-{i}" for i in ids}})
    return RenderContext(site, context.secrets.model_copy(update={"mqtt": mqtt}))


@contextlib.contextmanager
def furnaces(
    context: RenderContext, broker_port: int, workdir: Path, **overrides: Any
) -> Iterator[dict[str, VirtualBoardProcess]]:
    """Every device of the site as a virtual furnace at speed 1, started and connected."""
    with contextlib.ExitStack() as boards:
        started = {}
        for device in context.site.devices:
            board = virtual_furnace(
                context.site,
                context.secrets,
                device,
                broker_port,
                workdir / "boards",
                overrides=overrides,
            )
            started[device.id] = boards.enter_context(board)
        for board in started.values():
            board.wait_for(r" INFO mqtt_connected ", BOOT_TIMEOUT_S)
        yield started


def stored_samples(
    store: Store, metric: str, start_s: float | None = None, end_s: float | None = None
) -> dict[str, list[int]]:
    """Device → the timestamps (ms) of its stored samples of ``metric``, raw as exported
    (``-search.latencyOffset`` hides nothing from an export)."""
    stamps: dict[str, list[int]] = {}
    for series in store.export(f'{{__name__="{metric}"}}', start_s, end_s):
        stamps.setdefault(series["metric"]["device"], []).extend(series["timestamps"])
    return stamps


SEQUENCE = promql.SEQUENCE
"""One sample per reading: the series the benchmarks count readings by."""
