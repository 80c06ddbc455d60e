"""What reached the store: readings per device (one sequence-number sample per reading)
and the series the plot draws."""

from __future__ import annotations

import time
from collections.abc import Callable

from sensor_bridge.alerting.alerts import DEVICE_LABEL, STUDIO_LABEL
from sensor_bridge.alerting.promql import SEQUENCE
from sensor_bridge.site import Site
from sensor_bridge.store.client import Store

Series = tuple[list[float], list[float]]
"""(Unix seconds, values), in time order."""


def stored_series(storage: Store, site: Site, metric: str) -> dict[str, Series]:
    """Device → every stored sample of ``metric`` (the raw samples, as exported)."""
    storage.flush()
    found: dict[str, list[tuple[float, float]]] = {}
    for series in storage.export(f'{metric}{{{STUDIO_LABEL}="{site.studio}"}}'):
        device = series["metric"].get(DEVICE_LABEL, "")
        found.setdefault(device, []).extend(
            (stamp / 1000, float(value))
            for stamp, value in zip(series["timestamps"], series["values"], strict=True)
        )
    return {
        device: ([t for t, _ in sorted(points)], [v for _, v in sorted(points)])
        for device, points in found.items()
    }


def stored_readings(storage: Store, site: Site) -> dict[str, int]:
    """Device → readings stored (samples of the sequence number, one per reading)."""
    series = stored_series(storage, site, SEQUENCE)
    return {device.id: len(series.get(device.id, ([], []))[0]) for device in site.devices}


def wait_stored(
    storage: Store, site: Site, published: Callable[[], dict[str, int]], timeout: float
) -> dict[str, int]:
    """Poll until every published reading is stored (or time is up); the stored counts."""
    deadline = time.monotonic() + timeout
    while True:
        stored = stored_readings(storage, site)
        if all(stored[d] >= n for d, n in published().items()) or time.monotonic() > deadline:
            return stored
        time.sleep(0.5)
