"""Where each service answers, whether it is deployed here, and the logins the probes use.

Addresses come from the site file and the renderers' constants, exactly where the rendered
configuration makes each service listen. A service counts as deployed when the file the deploy
installs for it is on this machine; one that is not deployed and does not answer is "not
deployed here", not a fault.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sensor_bridge.errors import BridgeError
from sensor_bridge.site import Site

MOSQUITTO = "mosquitto"
VICTORIAMETRICS = "victoriametrics"
VMALERT = "vmalert"
ALERTMANAGER = "alertmanager"
VECTOR = "vector"
ALLOY = "alloy"
MONIT = "monit"
SERVICES = (MOSQUITTO, VICTORIAMETRICS, VMALERT, ALERTMANAGER, VECTOR, ALLOY, MONIT)
"""In the order the screen lists them: data in, storage, alerting, shipping, watching."""


@dataclass(frozen=True)
class Endpoints:
    """``host:port`` of each service."""

    mosquitto: str
    victoriametrics: str
    vmalert: str
    alertmanager: str
    vector: str
    alloy: str
    monit: str

    @classmethod
    def of_site(cls, site: Site) -> Endpoints:
        """Where the rendered configuration makes each service listen on the Pi."""
        from sensor_bridge.render import alloy, monit, vmalert
        from sensor_bridge.render import vector as vector_render

        return cls(
            mosquitto=f"{vector_render.broker_host(site)}:{site.broker.port}",
            victoriametrics=site.storage.urls.address,
            vmalert=vmalert.LISTEN,
            alertmanager=f"127.0.0.1:{site.alertmanager.port}",
            vector=vector_render.API_ADDRESS,
            alloy=alloy.LISTEN,
            monit=f"127.0.0.1:{monit.Options().httpd_port}",
        )

    def moved(self, overrides: Mapping[str, str]) -> Endpoints:
        """These endpoints with some services at other addresses (``name`` → ``host:port``)."""
        for name, address in overrides.items():
            if name not in SERVICES:
                raise BridgeError(f"no service {name!r}; services are {', '.join(SERVICES)}")
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                raise BridgeError(f"{name}={address}: use HOST:PORT, e.g. 127.0.0.1:9093")
        return dataclasses.replace(self, **overrides)

    def address(self, name: str) -> str:
        address: str = getattr(self, name)
        return address

    def url(self, name: str) -> str:
        return f"http://{self.address(name)}"


def installed_files(site: Site) -> dict[str, PurePosixPath]:
    """Service → the file the deploy installs for it (relative to ``/``)."""
    from sensor_bridge.render import alertmanager, alloy, monit, mosquitto, quadlet_dir

    quadlets = quadlet_dir(site)
    return {
        MOSQUITTO: mosquitto.CONF_PATH,
        VICTORIAMETRICS: quadlets / f"{VICTORIAMETRICS}.container",
        VMALERT: quadlets / f"{VMALERT}.container",
        ALERTMANAGER: alertmanager.CONFIG_PATH,
        VECTOR: quadlets / f"{VECTOR}.container",
        ALLOY: alloy.CONFIG_PATH,
        MONIT: monit.CHECKS_PATH,
    }


def deployed(site: Site, root: Path) -> frozenset[str]:
    """The services whose installed file is under ``root`` (``/`` on the Pi, or a rendered
    tree). A file this user may not look at counts as there: better a "not running" line
    than a hidden fault."""
    found = set()
    for name, path in installed_files(site).items():
        try:
            os.stat(root / path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            pass
        found.add(name)
    return frozenset(found)


@dataclass(frozen=True)
class Logins:
    """The logins the probes need from the secrets file; None with the reason when missing."""

    broker: tuple[str, str] | None
    monit: tuple[str, str] | None
    missing: str = ""
    """Why a login is None (one line), e.g. the secrets file cannot be read."""

    @classmethod
    def of_site(cls, site: Site) -> Logins:
        from sensor_bridge.render.monit import HTTPD_USER
        from sensor_bridge.render.mosquitto import PIPELINE_USER
        from sensor_bridge.site import load_secrets

        try:
            secrets = load_secrets(site)
        except BridgeError as error:
            return cls(None, None, str(error))
        broker = (PIPELINE_USER, secrets.mqtt.pipeline) if secrets.mqtt.pipeline else None
        password = secrets.monit.httpd_password
        monit = (HTTPD_USER, password) if password else None
        missing = [
            what
            for what, login in (("[mqtt] pipeline", broker), ("[monit] httpd_password", monit))
            if login is None
        ]
        reason = f"{secrets.path} has no {' or '.join(missing)}" if missing else ""
        return cls(broker, monit, reason)
