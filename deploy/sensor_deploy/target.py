"""The deploy's settings for one host, from its inventory data (``deploy/inventory.py``,
``group_data/all.py``, ``--data key=value``), and the site it gets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pyinfra import logger
from pyinfra.api.exceptions import DeployError
from pyinfra.api.host import Host

from sensor_bridge.errors import BridgeError
from sensor_bridge.install.host_setup import SENSOR_BRIDGE
from sensor_bridge.install.layout import SITE_DIR, Layout
from sensor_bridge.registry import AptRepository
from sensor_bridge.site import Site, load_secrets, load_site, site_path
from sensor_deploy import pinning
from sensor_deploy.mirrors import apt_mirrors


@dataclass(frozen=True)
class Target:
    site: Site
    site_file: Path
    """The site file on the machine running pyinfra."""
    root: PurePosixPath
    """``/`` on a Pi; a staging root in tests (system steps are then recorded, not run)."""
    sensor_bridge: str
    """The host package's command on the host."""
    upload_site: bool
    """Copy the site and secrets files to the host (remote hosts); @local uses them in place."""
    apt_mirrors: Mapping[str, AptRepository] = field(default_factory=dict)
    """Repository (its list's name, ``grafana``) -> the mirror the host takes it from."""

    def repository(self, repository: AptRepository) -> AptRepository:
        """Where this host gets ``repository``'s packages: its mirror, or itself."""
        return self.apt_mirrors.get(repository.file, repository)

    @property
    def live(self) -> bool:
        return self.root == PurePosixPath("/")

    @property
    def layout(self) -> Layout:
        return Layout(Path(self.root))

    @property
    def site_on_host(self) -> str:
        """The site file the host's commands read (and monit's data-flow check names)."""
        if self.upload_site:
            return str(self.root / SITE_DIR / "site.toml")
        return str(self.site_file)

    @property
    def secrets_on_host(self) -> str:
        return str(self.root / SITE_DIR / self.site.secrets_file)

    @property
    def user(self) -> str:
        return self.site.service_user.name


def target(host: Host) -> Target:
    """The host's target; a site or secrets problem stops the deploy with its one line.

    A live deploy runs images by digest only: any the site names by tag alone is pinned first,
    in the site file (``pinning``)."""
    site_file = Path(host.data.get("site_file") or site_path(None)).absolute()
    root = PurePosixPath(host.data.get("root") or "/")
    try:
        site = load_site(site_file)
        if root == PurePosixPath("/") and pinning.unpinned(site):
            for line in pinning.pin_site_file(site_file, site):
                logger.info(line)
            site = load_site(site_file)
        load_secrets(site)
    except (BridgeError, pinning.PinError) as error:
        raise DeployError(str(error)) from None
    upload = host.name != "@local"
    if upload and Path(site.secrets_file).is_absolute():
        raise DeployError(
            f"{site_file}: secrets_file must be relative to the site file on a remote Pi "
            "(both are copied to /etc/sensor-pipeline)"
        )
    return Target(
        site=site,
        site_file=site_file,
        root=root,
        sensor_bridge=str(host.data.get("sensor_bridge") or SENSOR_BRIDGE),
        upload_site=upload,
        apt_mirrors=apt_mirrors(host.data.get("apt_mirrors") or {}),
    )
