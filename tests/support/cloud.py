"""A render context whose secrets send the furnace to Grafana Cloud (a stand-in's URL)."""

from __future__ import annotations

from pathlib import Path

from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext
from sensor_bridge.site import GrafanaCloudSecrets

USER = "123456"
TOKEN = "glc_test-token=="


def cloud_context(
    directory: Path, url: str = "https://prometheus.example/api/prom/push"
) -> RenderContext:
    context = example_context(directory)
    cloud = GrafanaCloudSecrets(url=url, user=USER, token=TOKEN)
    secrets = context.secrets.model_copy(update={"grafana_cloud": cloud})
    return RenderContext(context.site, secrets)
