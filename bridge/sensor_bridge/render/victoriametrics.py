"""VictoriaMetrics single node: a rootless quadlet, published on the loopback port of the
site's ``[storage] url`` only.

Rendered only when that URL is the Pi's own (the registry's ``runs_here``): a studio whose
store is elsewhere (another single node, or a tenant of a cluster) runs no VictoriaMetrics here.

The flags are the ones the Debian package's defaults get wrong for us: retention (Debian keeps
one month; the site says 100y), deduplication (without it a re-imported sample is stored twice;
1 ms keeps one sample per timestamp and never merges two real readings) and the query latency
offset (30 s by default hides the newest samples from queries and so from alerts).
"""

from __future__ import annotations

from sensor_bridge.registry import VICTORIAMETRICS
from sensor_bridge.render import RenderContext, RenderedFile
from sensor_bridge.render.quadlets import Container, container_file
from sensor_bridge.site import Site

NAME = VICTORIAMETRICS.name
CONTAINER_DATA = "/storage"
DEDUP_INTERVAL = "1ms"


def render(context: RenderContext) -> list[RenderedFile]:
    return [container_file(context.site, container(context.site), service=NAME, check=NAME)]


def address(site: Site) -> str:
    """Where the store answers reads: the Pi's own node (published on its loopback) when it
    runs here."""
    return site.storage.urls.address


def after(site: Site) -> list[str]:
    """The units a service that uses the store starts after: this one, when it runs here."""
    return [f"{NAME}.service"] if VICTORIAMETRICS.runs_here(site) else []


def container(site: Site) -> Container:
    storage = site.storage
    port = storage.urls.port
    return Container(
        name=NAME,
        description="VictoriaMetrics: the studio's furnace time series (sensor-pipeline)",
        image=storage.image,
        exec_args=flags(site),
        publish=[f"127.0.0.1:{port}:{port}"],
        volumes=[f"{storage.data_path}:{CONTAINER_DATA}"],
        health_cmd=f"wget -q -O /dev/null http://127.0.0.1:{port}/health",
    )


def flags(site: Site) -> list[str]:
    """The command-line flags; the checker starts the real binary with these."""
    storage = site.storage
    return [
        f"-storageDataPath={CONTAINER_DATA}",
        f"-httpListenAddr=:{storage.urls.port}",
        f"-retentionPeriod={storage.retention}",
        f"-dedup.minScrapeInterval={DEDUP_INTERVAL}",
        f"-search.latencyOffset={storage.latency_offset}",
    ]
