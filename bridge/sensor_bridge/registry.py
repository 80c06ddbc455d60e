"""The service registry: every service of the stack in one table, and where its pieces are.

An entry says how its service runs (a Debian package's system unit, or a rootless quadlet of the
service user from the image the site pins), how its health is asked and whether Alloy scrapes
it, and names its pieces: where it listens and its files (its renderer, ``render``), its checker
(``checks``), its status probe (``status``) and what a change of one of its files asks of its
unit. Everything that lists services derives the list from ``SERVICES``, in its order (data in,
storage, alerting, shipping, watching):

* the render index (``render.renderers``) and the checkers (``checks.checkers``);
* Alloy's scrapes (``render.alloy``) and the ServiceDown rules (``alerting.rules``): every
  service with a ``scrape``;
* monit's checks (``render.monit``) and the deploy's last check (``install.health``): every
  service with a ``health``;
* ``sensor-bridge status`` (``status.targets``, ``status.collect``);
* the deploy: what it installs (``install.host_setup``, ``deploy/sensor_deploy``) and what it
  restarts, in this order (``install.activation``).

Which of them this Pi runs depends on the site: an entry's ``runs_here`` says so, and every
list above that concerns this Pi takes its services from ``here(site)``, never from a check of
its own. The one entry that is not always here is VictoriaMetrics: a studio whose store is
elsewhere (``[storage]`` names another node, or a cluster tenant) runs none on the Pi.

A piece is named (``module:attribute`` under ``sensor_bridge``), not imported: the registry sits
below the code it points at, which reads the registry. docs/ARCHITECTURE.md ("Where a service
lives") says why the pieces stay in packages by kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Generic, TypeVar

from sensor_bridge import images

if TYPE_CHECKING:
    from sensor_bridge.checks import Checker
    from sensor_bridge.render import Renderer
    from sensor_bridge.site import Site
    from sensor_bridge.status.services import Probe

T = TypeVar("T")


def _always(site: Site) -> bool:
    return True


RESTART = "restart"
RELOAD = "reload"
ChangeRule = Callable[[PurePosixPath], str | None]
"""What the change of one of a service's files asks of its unit: ``RESTART``, ``RELOAD`` or
None (nothing)."""

METRICS = "metrics"
"""Alloy scrapes the service's own ``/metrics``."""
PROBE = "probe"
"""Alloy's prober asks the service's ``health``: it has no Prometheus metrics here."""


@dataclass(frozen=True)
class Ref(Generic[T]):
    """One piece of a service, imported when it is loaded."""

    target: str
    """``module:attribute`` under ``sensor_bridge``, e.g. ``render.vmalert:render``."""

    def load(self) -> T:
        module, attribute = self.target.split(":")
        found: T = getattr(importlib.import_module(f"sensor_bridge.{module}"), attribute)
        return found


@dataclass(frozen=True)
class Health:
    """How a service is asked whether it is healthy: an HTTP GET of ``path`` answering 2xx
    (with ``content`` in its body), or, without a path, a TCP connect."""

    path: str | None = None
    content: str | None = None


@dataclass(frozen=True)
class Quadlet:
    """A rootless podman container of the service user (``<name>.container``, unit
    ``<name>.service``), from the image the site pins."""

    image_setting: str
    """The site setting that names its image (``storage.image``): the deploy pins it there."""
    tool: str
    """The command its checker runs: on the Pi it exists only inside this image
    (``install.container_tools``)."""
    data_dir: Callable[[Site], Path] | None = None
    """Where it keeps its data, owned by the service user."""

    def image(self, site: Site) -> str:
        """The image podman pulls and runs: by digest alone once the site pins one."""
        return images.for_podman(attrgetter(self.image_setting)(site))


@dataclass(frozen=True)
class AptRepository:
    """A package source besides Debian's, trusted with its own key."""

    title: str
    key_url: str
    fingerprint: str
    """The signing key's primary fingerprint: the deploy installs that key alone from
    ``key_url``, or stops."""
    keyring: str
    source: str
    """``URI suite component``, as a sources.list line has them."""
    file: str
    """Its list in /etc/apt/sources.list.d/ (without ``.list``)."""
    pinned_in: str = "sensor_bridge/registry.py"
    """Where its fingerprint is written, to update after a key rotation."""

    @property
    def line(self) -> str:
        return f"deb [signed-by={self.keyring}] {self.source}"


GRAFANA = AptRepository(
    title="Grafana",
    key_url="https://apt.grafana.com/gpg-full.key",
    # Grafana's signing key since the 2023-08-24 rotation, as apt.grafana.com announces it
    # (quoted in github.com/voxpupuli/puppet-grafana/pull/336); gpg-full.key also holds the two
    # earlier ones, both revoked, which the keyring does not get.
    fingerprint="B53AE77BADB630A683046005963FA27710458545",
    keyring="/etc/apt/keyrings/grafana.asc",
    source="https://apt.grafana.com stable main",
    file="grafana",
)


@dataclass(frozen=True)
class Package:
    """A system unit from a Debian package (or from ``repository``)."""

    unit: str
    packages: tuple[str, ...]
    installed: Ref[PurePosixPath]
    """The file the deploy installs for it: where it is, the service is deployed."""
    process: str | None = None
    """How monit finds its process (``with pidfile ...``, ``matching ...``)."""
    repository: AptRepository | None = None


@dataclass(frozen=True)
class Service:
    name: str
    """Also its scrape job, its line in ``status``, its checker's name, the ``service`` label of
    its ServiceDown alert, and a quadlet's container and unit name."""
    title: str
    """As its project writes it, in the deploy's log."""
    runs: Quadlet | Package
    address: Ref[Callable[[Site], str]]
    """``host:port`` where it answers on the Pi, from its renderer (which makes it listen)."""
    renderer: Ref[Renderer]
    checker: Ref[Checker]
    probe: Ref[Probe]
    """Its line of ``sensor-bridge status``."""
    health: Health | None = None
    """None: monit does not watch it (it is monit)."""
    scrape: str | None = None
    """``METRICS``, ``PROBE``, or None: Alloy does not scrape it."""
    on_change: Ref[ChangeRule] | None = None
    """None: a change of any of its files restarts it."""
    runs_here: Callable[[Site], bool] = _always
    """Whether this Pi runs it for the site. When not, nothing of it is rendered, installed,
    watched, scraped, alerted on or restarted here (``here``)."""

    @property
    def user(self) -> bool:
        """A unit of the service user's manager (``systemctl --user``), not a system unit."""
        return isinstance(self.runs, Quadlet)

    @property
    def unit(self) -> str:
        return self.runs.unit if isinstance(self.runs, Package) else f"{self.name}.service"


MOSQUITTO = Service(
    name="mosquitto",
    title="Mosquitto",
    runs=Package(
        "mosquitto.service",
        ("mosquitto", "mosquitto-clients"),
        installed=Ref("render.mosquitto:CONF_PATH"),
        # Not by pidfile: Debian 13's mosquitto.conf writes none (its pid_file line is
        # commented out; systemd tracks the process), so on a trixie host monit found no
        # process and restarted a healthy broker every few minutes. Anchored: the systemctl
        # that restarts it has the name in its arguments too.
        process='matching "^/usr/sbin/mosquitto "',
    ),
    address=Ref("render.mosquitto:address"),
    renderer=Ref("render.mosquitto:render"),
    checker=Ref("checks.mosquitto:check"),
    probe=Ref("status.broker:probe"),
    health=Health(),
    scrape=PROBE,
    on_change=Ref("render.mosquitto:on_change"),
)
VICTORIAMETRICS = Service(
    name="victoriametrics",
    title="VictoriaMetrics",
    runs=Quadlet(
        image_setting="storage.image",
        tool="victoria-metrics",
        data_dir=lambda site: site.storage.data_path,
    ),
    address=Ref("render.victoriametrics:address"),
    renderer=Ref("render.victoriametrics:render"),
    checker=Ref("checks.victoriametrics:check"),
    probe=Ref("status.services:victoriametrics"),
    health=Health("/health", content="OK"),
    scrape=METRICS,
    # Only the Pi's own single node: a store elsewhere is watched by whoever runs it.
    runs_here=lambda site: site.storage.urls.local,
)
VMALERT = Service(
    name="vmalert",
    title="vmalert",
    runs=Quadlet(image_setting="alerts.image", tool="vmalert"),
    address=Ref("render.vmalert:address"),
    renderer=Ref("render.vmalert:render"),
    checker=Ref("checks.vmalert:check"),
    probe=Ref("status.services:victoriametrics"),
    health=Health("/health", content="OK"),
    scrape=METRICS,
    # A new rules file restarts it: its quadlet defines no reload, and the alerts' state
    # survives a restart (-remoteRead).
)
ALERTMANAGER = Service(
    name="alertmanager",
    title="Alertmanager",
    runs=Package(
        "prometheus-alertmanager.service",
        ("prometheus-alertmanager",),
        installed=Ref("render.alertmanager:CONFIG_PATH"),
        # Anchored: the systemctl that restarts it has the name in its arguments too.
        process='matching "^/usr/bin/prometheus-alertmanager"',
    ),
    address=Ref("render.alertmanager:address"),
    renderer=Ref("render.alertmanager:render"),
    checker=Ref("checks.alertmanager:check"),
    probe=Ref("status.services:alertmanager"),
    health=Health("/-/healthy"),
    scrape=METRICS,
    on_change=Ref("render.alertmanager:on_change"),
)
VECTOR = Service(
    name="vector",
    title="Vector",
    runs=Quadlet(
        image_setting="pipeline.image",
        tool="vector",
        data_dir=lambda site: site.pipeline.data_path,
    ),
    address=Ref("render.vector:address"),
    renderer=Ref("render.vector:render"),
    checker=Ref("checks.vector:check"),
    probe=Ref("status.services:vector"),
    health=Health("/health"),
    scrape=PROBE,
    on_change=Ref("render.vector:on_change"),
)
ALLOY = Service(
    name="alloy",
    title="Alloy",
    runs=Package(
        "alloy.service",
        ("alloy",),
        installed=Ref("render.alloy:CONFIG_PATH"),
        process='matching "^/usr/bin/alloy run"',
        # Grafana builds it for arm64 and amd64 only.
        repository=GRAFANA,
    ),
    address=Ref("render.alloy:address"),
    renderer=Ref("render.alloy:render"),
    checker=Ref("checks.alloy:check"),
    probe=Ref("status.services:alloy"),
    health=Health("/-/ready"),
    scrape=METRICS,
    on_change=Ref("render.alloy:on_change"),
)
MONIT = Service(
    name="monit",
    title="monit",
    runs=Package("monit.service", ("monit",), installed=Ref("render.monit:CHECKS_PATH")),
    address=Ref("render.monit:address"),
    renderer=Ref("render.monit:render"),
    checker=Ref("checks.monit:check"),
    probe=Ref("status.services:monit"),
    # Any change restarts it: monitrc holds the web interface's listener.
)

SERVICES = (MOSQUITTO, VICTORIAMETRICS, VMALERT, ALERTMANAGER, VECTOR, ALLOY, MONIT)
"""The deploy restarts them in this order too: monit, which restarts the others when they do
not answer, last."""
NAMES = tuple(service.name for service in SERVICES)


def here(site: Site) -> tuple[Service, ...]:
    """The services this Pi runs for ``site``, in ``SERVICES``' order."""
    return tuple(service for service in SERVICES if service.runs_here(site))


def by_name(name: str) -> Service:
    """The entry of ``name``; ValueError for a name no entry has."""
    for entry in SERVICES:
        if entry.name == name:
            return entry
    raise ValueError(f"no service {name!r}; services are {', '.join(NAMES)}")
