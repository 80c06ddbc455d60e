"""What the Pi needs besides the rendered files: packages, package repositories, images, the
service user's directories, and the NTP server the sensor nodes use; what each service needs
comes from the registry. Data only; ``deploy/`` turns it into pyinfra operations, and the
planning test reads it to know what to expect.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from sensor_bridge.registry import SERVICES, AptRepository, Package, Quadlet, here
from sensor_bridge.site import Site

BASE_PACKAGES = ("python3-venv", "curl")
"""The host package's virtualenv; curl fetches Grafana's key."""
PODMAN_PACKAGES = ("podman", "uidmap", "dbus-user-session", "systemd-container")
"""Rootless quadlets: podman (>= 4.4), its user-namespace helpers, and the user's D-Bus that
``systemctl --user --machine=USER@.host`` (the deploy and monit) talks to."""
NTP_PACKAGES = ("chrony",)
"""The sensor nodes set their clock from the broker host (the firmware's NTP default)."""


def packages(repository: AptRepository | None = None) -> tuple[str, ...]:
    """The packages of the system services from ``repository`` (None: Debian's)."""
    return tuple(
        package
        for service in SERVICES
        if isinstance(service.runs, Package) and service.runs.repository == repository
        for package in service.runs.packages
    )


DEBIAN_PACKAGES = (*BASE_PACKAGES, *PODMAN_PACKAGES, *packages(), *NTP_PACKAGES)
REPOSITORIES = tuple(
    dict.fromkeys(
        service.runs.repository
        for service in SERVICES
        if isinstance(service.runs, Package) and service.runs.repository is not None
    )
)

HOST_PACKAGE_DIR = PurePosixPath("/opt/sensor-pipeline")
HOST_PACKAGE_VENV = HOST_PACKAGE_DIR / "venv"
SENSOR_BRIDGE = PurePosixPath("/usr/local/bin/sensor-bridge")
"""Where monit's data-flow check runs it (render.monit.Options.sensor_bridge)."""

USER_TIMERS = ("systemd-tmpfiles-clean.timer",)
"""Enabled in the service user's manager: it deletes Vector's expired dead letters."""

CHRONY_CONF_PATH = PurePosixPath("/etc/chrony/conf.d/sensor-pipeline.conf")
LAN_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10")


def images(site: Site) -> list[str]:
    """The container images of the quadlets this Pi runs, pinned by the site (the versions
    tested)."""
    return [service.runs.image(site) for service in here(site) if isinstance(service.runs, Quadlet)]


def data_dirs(site: Site) -> list[PurePosixPath]:
    """Directories the containers write, owned by the service user."""
    return [
        PurePosixPath(service.runs.data_dir(site))
        for service in here(site)
        if isinstance(service.runs, Quadlet) and service.runs.data_dir is not None
    ]


def chrony_conf() -> str:
    """Serve time to the LAN (private ranges only): the nodes' NTP server is the broker host."""
    lines = [
        "# Written by the sensor-pipeline deploy: the sensor nodes take their time from here.",
        *(f"allow {network}" for network in LAN_RANGES),
        "# Keep serving the LAN when the internet is gone (stratum 10: clearly local).",
        "local stratum 10",
    ]
    return "\n".join(lines) + "\n"
