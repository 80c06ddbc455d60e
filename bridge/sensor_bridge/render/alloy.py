"""Grafana Alloy (Grafana's apt package, system service): the Pi's health and the stack's own
metrics, to the studio's VictoriaMetrics and, when the secrets file has it, to Grafana Cloud.

``/etc/alloy/config.alloy`` (no secrets: it reads them with ``sys.env``) and
``/etc/default/alloy`` (the package's unit reads it as its EnvironmentFile, as root, before
Alloy drops to user ``alloy``: mode 0600 keeps the Grafana Cloud token to root).

Scrape jobs, each series with ``job`` and the external label ``studio``:

* ``node``: the embedded node_exporter (CPU, memory, disk, network, thermal zone, hwmon);
* every service the registry scrapes for ``METRICS``: its own ``/metrics`` (VictoriaMetrics,
  vmalert, Alertmanager, Alloy itself);
* every service it marks ``PROBE``, which exposes no Prometheus metrics here: a probe of its
  health, a TCP connect (the broker) or an HTTP GET (Vector's API). A probe's
  ``probe_success`` is renamed ``up`` (the scrape's own ``up`` only says Alloy's embedded
  prober answered), so that every service has ``up{job="..."}`` for the "service down" alerts.

The broker's health beyond answering, its ``$SYS`` statistics (clients, messages received,
sent and dropped, load, store, uptime), comes through Vector: no Alloy component reads MQTT,
Vector turns them into ``mosquitto_broker_*`` gauges on a loopback exporter
(``render.broker_stats``), and Alloy scrapes that under job ``mosquitto`` too, keeping only
those gauges: the exporter scrape's own ``up`` is dropped, so ``up{job="mosquitto"}`` still
means "the broker accepts connections" (Vector's health is ``up{job="vector"}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from sensor_bridge.errors import SiteError
from sensor_bridge.registry import (
    ALLOY,
    METRICS,
    MOSQUITTO,
    PROBE,
    RELOAD,
    RESTART,
    SERVICES,
    Service,
    here,
)
from sensor_bridge.render import RenderContext, RenderedFile, broker_stats
from sensor_bridge.site import GrafanaCloudSecrets, Site

NAME = ALLOY.name
CONFIG_PATH = PurePosixPath("etc/alloy/config.alloy")
DEFAULTS_PATH = PurePosixPath("etc/default/alloy")
LISTEN = "127.0.0.1:12345"
"""Alloy's UI and ``/-/ready``."""
SCRAPE_INTERVAL = "15s"
PROBE_TIMEOUT = "5s"

NODE_JOB = "node"
BROKER_STATS_JOB = MOSQUITTO.name
"""The job of the broker's statistics: the broker's, though its ``up`` stays the probe's."""
JOBS = (NODE_JOB, *(service.name for service in SERVICES if service.scrape is not None))
"""Every ``job`` label Alloy writes on a Pi that runs every service (``registry.here``);
``up{job=...}`` exists for each it scrapes."""

NODE_COLLECTORS = (
    "cpu",
    "cpufreq",
    "diskstats",
    "filesystem",
    "hwmon",
    "loadavg",
    "meminfo",
    "netdev",
    "thermal_zone",
    "uname",
)
ENV_URL = "GRAFANA_CLOUD_URL"
ENV_USER = "GRAFANA_CLOUD_USER"
ENV_TOKEN = "GRAFANA_CLOUD_TOKEN"

HEADER = "// Rendered by sensor-bridge from the site file; edits here are overwritten."
_ENV_SAFE = re.compile(r'^[^"\\$`\n\r]+$')


def render(context: RenderContext) -> list[RenderedFile]:
    cloud = context.secrets.grafana_cloud
    return [
        RenderedFile(
            CONFIG_PATH, config(context.site, cloud is not None), check=NAME, service=NAME
        ),
        RenderedFile(
            DEFAULTS_PATH,
            defaults(cloud, str(context.secrets.path)),
            mode=0o600,
            secret=True,
            check=NAME,
            service=NAME,
        ),
    ]


def address(site: Site) -> str:
    return LISTEN


def on_change(path: PurePosixPath) -> str:
    """SIGHUP re-reads the config; its environment file is read only when the unit starts."""
    return RELOAD if path == CONFIG_PATH else RESTART


def defaults(cloud: GrafanaCloudSecrets | None, secrets_path: str) -> str:
    """``/etc/default/alloy``: the package's variables, the listen address, the secrets."""
    lines = [
        HEADER.replace("//", "#"),
        'CONFIG_FILE="/etc/alloy/config.alloy"',
        "# Loopback only: the UI has no authentication.",
        f'CUSTOM_ARGS="--server.http.listen-addr={LISTEN} --disable-reporting"',
        "RESTART_ON_UPGRADE=true",
    ]
    if cloud is not None:
        values = {ENV_URL: cloud.url, ENV_USER: cloud.user, ENV_TOKEN: cloud.token}
        if not all(_ENV_SAFE.match(value) for value in values.values()):
            raise SiteError(
                f"{secrets_path}: [grafana_cloud] values must not hold quotes, "
                "backslashes, $, backticks or line breaks"
            )
        lines += [f'{key}="{value}"' for key, value in values.items()]
    return "\n".join(lines) + "\n"


def config(site: Site, to_cloud: bool) -> str:
    """``config.alloy``."""
    write = "prometheus.remote_write.default.receiver"
    service_targets = {
        service.name: service.address.load()(site)
        for service in here(site)
        if service.scrape == METRICS
    }
    probed = [service for service in here(site) if service.scrape == PROBE]
    modules = {
        "modules": {
            "tcp_connect": {"prober": "tcp", "timeout": PROBE_TIMEOUT},
            "http_2xx": {"prober": "http", "timeout": PROBE_TIMEOUT},
        }
    }
    blocks = [
        HEADER,
        _block(
            'prometheus.exporter.unix "pi"',
            [f"set_collectors = {_list(NODE_COLLECTORS)}"],
            "The Pi itself: CPU, memory, disks, network, SoC temperature.",
        ),
        _block(
            'discovery.relabel "pi"',
            [
                "targets = prometheus.exporter.unix.pi.targets",
                _block("rule", ['target_label = "job"', f"replacement = {_str(NODE_JOB)}"]),
            ],
        ),
        _scrape("pi", "discovery.relabel.pi.output", write),
        _block(
            'prometheus.scrape "services"',
            [
                "targets = ["
                + "".join(
                    f'\n  {{"__address__" = {_str(address)}, "job" = {_str(job)}}},'
                    for job, address in service_targets.items()
                )
                + "\n]",
                f"forward_to = [{write}]",
                f"scrape_interval = {_str(SCRAPE_INTERVAL)}",
            ],
            "The stack's own /metrics.",
        ),
        _block(
            'prometheus.exporter.blackbox "probes"',
            [
                # JSON is YAML: the modules as one line.
                f"config = {_str(json.dumps(modules))}",
                *(_probe_target(service, site) for service in probed),
            ],
            "Services without Prometheus metrics here: the broker accepts connections, "
            "Vector's API says healthy.",
        ),
        _block(
            'discovery.relabel "probes"',
            [
                "targets = prometheus.exporter.blackbox.probes.targets",
                _block(
                    "rule",
                    [
                        'source_labels = ["job"]',
                        'regex = "integrations/blackbox/(.+)"',
                        'target_label = "job"',
                        'replacement = "$1"',
                    ],
                ),
            ],
        ),
        _scrape("probes", "discovery.relabel.probes.output", "prometheus.relabel.probes.receiver"),
        _block(
            'prometheus.relabel "probes"',
            [
                f"forward_to = [{write}]",
                _block("rule", ['source_labels = ["__name__"]', 'regex = "up"', 'action = "drop"']),
                _block(
                    "rule",
                    [
                        'source_labels = ["__name__"]',
                        'regex = "probe_success"',
                        'target_label = "__name__"',
                        'replacement = "up"',
                    ],
                ),
            ],
            "A probe's result is its service's up; the scrape's own up is Alloy's prober.",
        ),
        _block(
            'prometheus.scrape "broker_stats"',
            [
                f'targets = [{{"__address__" = {_str(broker_stats.EXPORTER_ADDRESS)}, '
                f'"job" = {_str(BROKER_STATS_JOB)}}}]',
                "forward_to = [prometheus.relabel.broker_stats.receiver]",
                f"scrape_interval = {_str(SCRAPE_INTERVAL)}",
            ],
            "The broker's $SYS statistics, as gauges from Vector's exporter.",
        ),
        _block(
            'prometheus.relabel "broker_stats"',
            [
                f"forward_to = [{write}]",
                _block(
                    "rule",
                    [
                        'source_labels = ["__name__"]',
                        f"regex = {_str(broker_stats.METRIC_PREFIX + '.+')}",
                        'action = "keep"',
                    ],
                ),
            ],
            "Only the statistics: the broker's up is the probe's, not this scrape's.",
        ),
        _remote_write(site, to_cloud),
    ]
    return "\n\n".join(blocks) + "\n"


def _remote_write(site: Site, to_cloud: bool) -> str:
    endpoints = [_block("endpoint", [f"url = {_str(site.storage.urls.remote_write)}"])]
    if to_cloud:
        auth = [f'username = sys.env("{ENV_USER}")', f'password = sys.env("{ENV_TOKEN}")']
        endpoints.append(
            _block("endpoint", [f'url = sys.env("{ENV_URL}")', _block("basic_auth", auth)])
        )
    where = "the studio's VictoriaMetrics" + (" and Grafana Cloud" if to_cloud else "")
    return _block(
        'prometheus.remote_write "default"',
        [f'external_labels = {{"studio" = {_str(site.studio)}}}', *endpoints],
        f"To {where}; every series carries the studio.",
    )


def _scrape(name: str, targets: str, forward_to: str) -> str:
    return _block(
        f'prometheus.scrape "{name}"',
        [
            f"targets = {targets}",
            f"forward_to = [{forward_to}]",
            f"scrape_interval = {_str(SCRAPE_INTERVAL)}",
        ],
    )


def _probe_target(service: Service, site: Site) -> str:
    """A TCP connect, or an HTTP GET of the service's health path."""
    where = service.address.load()(site)
    path = service.health.path if service.health is not None else None
    if path is None:
        return _target(service.name, where, "tcp_connect")
    return _target(service.name, f"http://{where}{path}", "http_2xx")


def _target(name: str, address: str, module: str) -> str:
    return _block(
        "target", [f"name = {_str(name)}", f"address = {_str(address)}", f"module = {_str(module)}"]
    )


def _block(head: str, body: Sequence[str], comment: str | None = None) -> str:
    inner = "\n".join("  " + line if line else line for text in body for line in text.split("\n"))
    text = f"{head} {{\n{inner}\n}}"
    return f"// {comment}\n{text}" if comment else text


def _str(text: str) -> str:
    # Alloy strings take JSON's escapes.
    return json.dumps(text)


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join(_str(item) for item in items) + "]"
