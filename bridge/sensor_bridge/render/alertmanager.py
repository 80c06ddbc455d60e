"""Alertmanager (Debian's prometheus-alertmanager): routes vmalert's alerts to Grafana IRM.

vmalert cannot page IRM itself (it posts a JSON array; IRM's Alertmanager integration wants
Alertmanager's webhook body), so the chain is vmalert → this Alertmanager → IRM. Routing tree::

    root (group by studio, device, alertname; unknown type → support)
    ├── alertname=Heartbeat → heartbeat   IRM's heartbeat URL, every heartbeat_interval
    ├── type=shop           → owner       the owner's IRM integration, fast first page
    └── type=system         → support     support's IRM integration

Inhibitions make one cause page once (``alerts.INHIBITIONS``). The config holds the IRM URLs, whose
tokens are secrets: mode 0600 (the deploy gives it to the ``prometheus`` user the package's
unit runs as). The flags in ``/etc/default/prometheus-alertmanager`` keep it on 127.0.0.1 and
turn clustering off (a single Pi has no peers, and the gossip port would listen on 0.0.0.0).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import yaml

from sensor_bridge.alerting import alerts
from sensor_bridge.registry import ALERTMANAGER, RELOAD, RESTART
from sensor_bridge.render import RenderContext, RenderedFile
from sensor_bridge.site import Paging, Secrets, Site

NAME = ALERTMANAGER.name
CONFIG_PATH = PurePosixPath("etc/prometheus/alertmanager.yml")
DEFAULTS_PATH = PurePosixPath("etc/default/prometheus-alertmanager")

OWNER = "owner"
SUPPORT = "support"
HEARTBEAT = "heartbeat"
GROUP_BY = [alerts.STUDIO_LABEL, alerts.DEVICE_LABEL, "alertname"]
MAX_ALERTS = 50
"""IRM refuses a webhook body with 100 alerts or more; the rest are summarised as truncated."""

HEADER = "# Rendered by sensor-bridge from the site file; edits here are overwritten.\n"


def render(context: RenderContext) -> list[RenderedFile]:
    return [
        RenderedFile(
            CONFIG_PATH,
            render_config(context.site, context.secrets),
            mode=0o600,
            secret=True,
            check=NAME,
            service=NAME,
        ),
        RenderedFile(DEFAULTS_PATH, render_defaults(context.site), check=NAME, service=NAME),
    ]


def address(site: Site) -> str:
    return f"127.0.0.1:{site.alertmanager.port}"


def on_change(path: PurePosixPath) -> str:
    """SIGHUP re-reads the config; the flags file is read only when the unit starts."""
    return RELOAD if path == CONFIG_PATH else RESTART


def render_config(site: Site, secrets: Secrets) -> str:
    text: str = yaml.safe_dump(config(site, secrets), sort_keys=False, width=1 << 16)
    return HEADER + text


def config(site: Site, secrets: Secrets) -> dict[str, Any]:
    paging = site.alertmanager
    return {
        "route": {
            "receiver": SUPPORT,
            "group_by": GROUP_BY,
            **_timing(paging.system),
            "routes": [
                {
                    "receiver": HEARTBEAT,
                    "matchers": [_equal("alertname", alerts.HEARTBEAT)],
                    # Every flush pings IRM (repeat below group_interval, as IRM's own example).
                    "group_wait": "0s",
                    "group_interval": paging.heartbeat_interval,
                    "repeat_interval": "1s",
                },
                {
                    "receiver": OWNER,
                    "matchers": [_equal(alerts.TYPE_LABEL, alerts.SHOP)],
                    **_timing(paging.shop),
                },
                {"receiver": SUPPORT, "matchers": [_equal(alerts.TYPE_LABEL, alerts.SYSTEM)]},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": [_equal("alertname", rule.source)],
                "target_matchers": [f'alertname=~"{"|".join(rule.targets)}"'],
                "equal": list(rule.equal),
            }
            for rule in alerts.INHIBITIONS
        ],
        "receivers": [
            _webhook(OWNER, secrets.irm_url("owner_url"), resolved=True),
            _webhook(SUPPORT, secrets.irm_url("support_url"), resolved=True),
            # The heartbeat never resolves: a resolved ping would still read as "alive".
            _webhook(HEARTBEAT, secrets.irm_url("heartbeat_url"), resolved=False),
        ],
    }


def render_defaults(site: Site) -> str:
    """The package's flags file: loopback only, no cluster."""
    args = f"--web.listen-address={address(site)} --cluster.listen-address="
    return (
        HEADER
        + "# Read by prometheus-alertmanager.service (EnvironmentFile). Only vmalert and\n"
        + "# sensor-bridge on this Pi talk to Alertmanager; an empty cluster address turns off\n"
        + "# the gossip listener a single Alertmanager does not need.\n"
        + f'ARGS="{args}"\n'
    )


def _timing(paging: Paging) -> dict[str, str]:
    return {
        "group_wait": paging.group_wait,
        "group_interval": paging.group_interval,
        "repeat_interval": paging.repeat_interval,
    }


def _equal(label: str, value: str) -> str:
    return f'{label}="{value}"'


def _webhook(name: str, url: str, *, resolved: bool) -> dict[str, Any]:
    return {
        "name": name,
        "webhook_configs": [{"url": url, "send_resolved": resolved, "max_alerts": MAX_ALERTS}],
    }
