"""vmalert: its rootless quadlet, and the rules (``alerting.rules``) in the file it reads.

It queries VictoriaMetrics "now minus ``-rule.evalDelay``", set to ``storage.latency_offset``
(what VictoriaMetrics hides from queries), so a rule never asks for what cannot be seen yet; the
alerts go to Alertmanager, and their state (``ALERTS_FOR_STATE``) to VictoriaMetrics, from which
a restarted vmalert reads it back.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from sensor_bridge.alerting import alerts, rules
from sensor_bridge.registry import VMALERT
from sensor_bridge.render import RenderContext, RenderedFile, user_path, victoriametrics
from sensor_bridge.render.quadlets import Container, container_file
from sensor_bridge.site import Site

NAME = VMALERT.name
PORT = 8881
"""Not vmalert's default 8880: vmalert-tool (``sensor-bridge alerts test``) always listens on
:8880, so on the Pi the two would collide."""
LISTEN = f"127.0.0.1:{PORT}"
CONTAINER_RULES = PurePosixPath("/etc/vmalert/rules.yaml")


def config_dir(site: Site) -> PurePosixPath:
    return user_path(site, ".config", "sensor-pipeline", NAME)


def rules_path(site: Site) -> PurePosixPath:
    return config_dir(site) / "rules.yaml"


def render(context: RenderContext) -> list[RenderedFile]:
    site = context.site
    return [
        RenderedFile(rules_path(site), rules.rules_yaml(site), check=NAME, service=NAME),
        container_file(site, container(site), service=NAME, check="quadlet"),
    ]


def address(site: Site) -> str:
    return LISTEN


def flags(
    site: Site,
    *,
    rule_file: str = str(CONTAINER_RULES),
    notifier_url: str | None = None,
    listen: str = LISTEN,
) -> list[str]:
    """vmalert's command line; tests and the benchmark run it with their own URLs."""
    store = site.storage.urls
    return [
        f"-rule={rule_file}",
        f"-datasource.url={store.select}",
        # Alert state (ALERTS_FOR_STATE) survives a restart: written to and read back from VM.
        f"-remoteWrite.url={store.insert}",
        f"-remoteRead.url={store.select}",
        f"-notifier.url={notifier_url or site.alertmanager.url}",
        f"-external.label={alerts.STUDIO_LABEL}={site.studio}",
        # Query "now minus what VictoriaMetrics hides": nothing newer is visible anyway.
        f"-rule.evalDelay={site.storage.latency_offset}",
        f"-evaluationInterval={rules.SYSTEM_INTERVAL}",
        f"-httpListenAddr={listen}",
    ]


def container(site: Site) -> Container:
    on_host = config_dir(site)
    return Container(
        name=NAME,
        description="vmalert: furnace and system alerts to Alertmanager (sensor-pipeline)",
        image=site.alerts.image,
        exec_args=flags(site),
        # VictoriaMetrics and Alertmanager listen on the host's loopback only.
        network="host",
        volumes=[f"/{on_host}:{CONTAINER_RULES.parent}:ro"],
        health_cmd=f"wget -q -O /dev/null http://{LISTEN}/health",
        after=victoriametrics.after(site),
    )
