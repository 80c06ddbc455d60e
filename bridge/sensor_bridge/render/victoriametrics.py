"""VictoriaMetrics single node: a rootless quadlet, listening on 127.0.0.1:8428 only.

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
PORT = 8428
LISTEN = f"127.0.0.1:{PORT}"
"""Where the pipeline writes and the alerting reads, on the Pi."""
CONTAINER_DATA = "/storage"
DEDUP_INTERVAL = "1ms"


def render(context: RenderContext) -> list[RenderedFile]:
    return [container_file(context.site, container(context.site), service=NAME, check=NAME)]


def address(site: Site) -> str:
    return LISTEN


def container(site: Site) -> Container:
    storage = site.storage
    return Container(
        name=NAME,
        description="VictoriaMetrics: the studio's furnace time series (sensor-pipeline)",
        image=storage.image,
        exec_args=flags(site),
        publish=[f"{LISTEN}:{PORT}"],
        volumes=[f"{storage.data_path}:{CONTAINER_DATA}"],
        health_cmd=f"wget -q -O /dev/null http://127.0.0.1:{PORT}/health",
    )


def flags(site: Site) -> list[str]:
    """The command-line flags; the checker starts the real binary with these."""
    storage = site.storage
    return [
        f"-storageDataPath={CONTAINER_DATA}",
        f"-httpListenAddr=:{PORT}",
        f"-retentionPeriod={storage.retention}",
        f"-dedup.minScrapeInterval={DEDUP_INTERVAL}",
        f"-search.latencyOffset={storage.latency_offset}",
    ]
