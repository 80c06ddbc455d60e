"""Where each service answers, whether it is deployed here, and the logins the probes use.

Addresses come from each service's renderer (the registry names it), exactly where the rendered
configuration makes each service listen; VictoriaMetrics' is the site's store, wherever it runs.
A service counts as deployed when this Pi runs it for the site (``registry.here``) and the file
the deploy installs for it is on this machine; one that is not deployed and does not answer is
"not deployed here", not a fault.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sensor_bridge.errors import BridgeError
from sensor_bridge.registry import NAMES, SERVICES, Package, here
from sensor_bridge.site import Site


@dataclass(frozen=True)
class Endpoints:
    """``host:port`` of each service, by name."""

    addresses: Mapping[str, str]

    @classmethod
    def of_site(cls, site: Site) -> Endpoints:
        """Where the rendered configuration makes each service listen on the Pi."""
        return cls({service.name: service.address.load()(site) for service in SERVICES})

    def moved(self, overrides: Mapping[str, str]) -> Endpoints:
        """These endpoints with some services at other addresses (``name`` → ``host:port``)."""
        for name, address in overrides.items():
            if name not in NAMES:
                raise BridgeError(f"no service {name!r}; services are {', '.join(NAMES)}")
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                raise BridgeError(f"{name}={address}: use HOST:PORT, e.g. 127.0.0.1:9093")
        return Endpoints({**self.addresses, **overrides})

    def address(self, name: str) -> str:
        return self.addresses[name]

    def url(self, name: str) -> str:
        return f"http://{self.address(name)}"


def installed_files(site: Site) -> dict[str, PurePosixPath]:
    """Service → the file the deploy installs for it (relative to ``/``): its quadlet, or the
    file its registry entry names; for the services this Pi runs only."""
    from sensor_bridge.render.quadlets import container_path

    return {
        service.name: (
            service.runs.installed.load()
            if isinstance(service.runs, Package)
            else container_path(site, service.name)
        )
        for service in here(site)
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
        from sensor_bridge.mqtt_accounts import STATUS_USER, login
        from sensor_bridge.render.monit import HTTPD_USER
        from sensor_bridge.site import load_secrets

        try:
            secrets = load_secrets(site)
        except BridgeError as error:
            return cls(None, None, str(error))
        broker = login(secrets, STATUS_USER) if secrets.mqtt.pipeline else None
        password = secrets.monit.httpd_password
        monit = (HTTPD_USER, password) if password else None
        missing = [
            what
            for what, login in (("[mqtt] pipeline", broker), ("[monit] httpd_password", monit))
            if login is None
        ]
        reason = f"{secrets.path} has no {' or '.join(missing)}" if missing else ""
        return cls(broker, monit, reason)
