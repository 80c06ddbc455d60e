"""What the store holds for each device: its newest sample of any kind (the data-flow check's
measure, ``observe.newest_sample_ages``), and the newest temperature, flame voltage and buffer
depth with their ages. Metric names are the contract's."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sensor_bridge.alerting import promql
from sensor_bridge.observe import newest_sample_ages
from sensor_bridge.site import Site
from sensor_bridge.status.report import Latest
from sensor_bridge.store import queries
from sensor_bridge.store.client import Store
from sensor_bridge.store.urls import single_node

WINDOW = "1h"
"""How far back a device's samples are looked for; older reads as none."""
SHOWN = (promql.TEMPERATURE, promql.FLAME, promql.BUFFER)


@dataclass(frozen=True)
class Samples:
    ages: dict[str, float]
    """Device → seconds since its newest sample; absent: none in ``WINDOW``."""
    latest: dict[str, dict[str, Latest]]
    """Device → metric (one of ``SHOWN``) → its newest value; absent: none in ``WINDOW``."""


def store_at(site: Site, address: str, timeout: float) -> Store:
    """The site's store, or the single node at ``address`` (``host:port``) when status was
    told to ask VictoriaMetrics somewhere else."""
    urls = site.storage.urls
    if address != urls.address:
        urls = single_node(f"http://{address}")
    return Store(urls, timeout)


def probe(store: Store, studio: str, now: float) -> Samples:
    """Three instant queries at once; ``BridgeError`` (one line) when the store fails."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        ages = pool.submit(newest_sample_ages, store, studio, WINDOW, now)
        values = pool.submit(store.query, queries.newest_values(SHOWN, studio, WINDOW), now)
        times = pool.submit(store.query, queries.newest_times(SHOWN, studio, WINDOW), now)
        value_rows, time_rows = values.result(), times.result()
        newest = ages.result()
    stamps = {
        (row["metric"].get("device"), row["metric"].get("__name__")): float(row["value"][1])
        for row in time_rows
    }
    latest: dict[str, dict[str, Latest]] = {}
    for row in value_rows:
        device, name = row["metric"].get("device"), row["metric"].get("__name__")
        stamp = stamps.get((device, name))
        if device is None or name not in SHOWN or stamp is None:
            continue
        latest.setdefault(device, {})[name] = Latest(float(row["value"][1]), now - stamp)
    return Samples(newest, latest)
