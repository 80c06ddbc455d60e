"""The real deploy (deploy/deploy.py, pyinfra's @ssh connector, as the README's several-Pis
command runs it) on a booted Debian 13 host: a fresh trixie, the example site, the images
the site pins served by digest from a registry inside the host.

The registry holds VictoriaMetrics and vmalert under their repository names, built from
Debian trixie's victoria-metrics 1.112.0 (the version the site pins): docker.io cannot be
reached from this machine. The site names them ``127.0.0.1:PORT/victoriametrics/...:v1.112.0@
sha256:<the digest the registry returned>``, so the deploy's own pull runs, by digest, with no
switch of its own. Vector's image (docker.io/timberio/vector) and Alloy's package (Grafana's apt
repository) have no Debian source: where the deploy stops for want of one, the test fails naming
it, after checking everything the deploy did on the host before.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from sensor_bridge.install import host_setup
from sensor_bridge.local.examples import example_site
from sensor_bridge.registry import GRAFANA
from sensor_bridge.site import VICTORIA_METRICS_VERSION, load_site
from tests.integration.deploy.pyinfra_runs import DEPLOY, Run, pyinfra
from tests.support.debian_host import (
    DebianHost,
    Ssh,
    booted,
    lacks,
    push_image,
    victoria_metrics_layer,
)

pytestmark = pytest.mark.slow

DEPLOY_TIMEOUT_S = 900
"""A first deploy installs a dozen packages and the host package's wheels from the network."""
IMAGES = {
    "victoriametrics/victoria-metrics": "/usr/bin/victoria-metrics",
    "victoriametrics/vmalert": "/usr/bin/vmalert",
}
"""Repository -> entrypoint (the tool the checkers call, ``install.container_tools``)."""
UNREACHABLE = {
    "registry-1.docker.io": "docker.io (Vector's image; Vector has no Debian package)",
    GRAFANA.key_url.split("/")[2]: "apt.grafana.com (Grafana's apt repository, Alloy's source)",
}


def site_with_local_images(directory: Path, registry: str) -> Path:
    """The example site, its VictoriaMetrics and vmalert images the registry's, by digest."""
    site_file = example_site(directory)
    text = site_file.read_text()
    layer = victoria_metrics_layer()
    for repository, entrypoint in IMAGES.items():
        digest = push_image(registry, repository, VICTORIA_METRICS_VERSION, layer, [entrypoint])
        pinned = f"docker.io/{repository}:{VICTORIA_METRICS_VERSION}"
        assert f'image = "{pinned}"' in text, pinned
        text = text.replace(pinned, f"{registry}/{repository}:{VICTORIA_METRICS_VERSION}@{digest}")
    site_file.write_text(text)
    return site_file


def inventory(directory: Path, access: Ssh, site_file: Path) -> Path:
    path = directory / "inventory.py"
    data = {**access.inventory_data(), "site_file": str(site_file)}
    path.write_text(f"hosts = [('debian-13', {data!r})]\n")
    return path


def stopped_at(run: Run) -> tuple[str, str]:
    """The operation the deploy stopped at and its error lines."""
    operation, errors = "", list[str]()
    for line in run.output.splitlines():
        if line.startswith("--> Starting operation: "):
            operation, errors = line.removeprefix("--> Starting operation: ").strip(), []
        elif "Error" in line:
            errors.append(line.strip())
    return operation, " / ".join(errors)


def installed(host: DebianHost, package: str) -> str:
    """The installed version of ``package`` on the host ('' when it is not installed)."""
    done = host.run("dpkg-query", "-W", "-f=${Status} ${Version}", package, check=False)
    status, _, version = done.stdout.rpartition(" ")
    return version if status == "install ok installed" else ""


def assert_installed_before(host: DebianHost, site_file: Path, operation: str) -> None:
    """What the deploy did before ``operation`` is there, as a Pi would have it."""
    site = load_site(site_file)
    for package in (*host_setup.BASE_PACKAGES, *host_setup.PODMAN_PACKAGES):
        assert installed(host, package), package
    podman = tuple(int(n) for n in installed(host, "podman").split(".")[:2])
    assert podman >= (4, 4), f"quadlets need podman 4.4, trixie has {podman}"
    assert host.run("id", "-u", "sensor").stdout.strip().isdigit()
    assert (host.root / "var/lib/systemd/linger/sensor").is_file()
    user = ["systemctl", "--user", "--machine=sensor@.host"]
    for timer in host_setup.USER_TIMERS:
        assert host.run(*user, "is-active", timer).stdout.strip() == "active", timer
    for name in ("mosquitto", "mosquitto-clients", "prometheus-alertmanager"):
        assert installed(host, name), name
    for unit in ("mosquitto.service", "prometheus-alertmanager.service"):
        assert host.run("systemctl", "is-enabled", unit).stdout.strip() == "enabled", unit
    data = host.run("stat", "-c", "%U %a", str(site.storage.data_path)).stdout.split()
    assert data == ["sensor", "750"]
    for image in (site.storage.image, site.alerts.image):
        # By digest, in the service user's store and in root's (the pre-swap checks').
        exists = f"podman image exists {image}"
        assert host.run("sh", "-c", exists, check=False).returncode == 0, image
        as_sensor = f"cd / && runuser -u sensor -- {exists}"
        assert host.run("sh", "-c", as_sensor, check=False).returncode == 0, image
    assert "Vector" in operation or "Alloy" in operation, operation


def unreachable_hosts() -> list[str]:
    """Of the hosts the deploy needs besides Debian's and PyPI's, those this machine cannot
    resolve."""
    missing = []
    for name, what in UNREACHABLE.items():
        try:
            socket.getaddrinfo(name, 443)
        except OSError:
            missing.append(what)
    return missing


def test_the_deploy_on_a_fresh_trixie_host(tmp_path: Path) -> None:
    with booted(tmp_path / "host") as host:
        access = host.start_ssh()
        registry = host.start_registry()
        site_file = site_with_local_images(tmp_path / "site", registry)

        run = pyinfra(
            str(inventory(tmp_path, access, site_file)), DEPLOY, "-y", timeout=DEPLOY_TIMEOUT_S
        )

        if run.returncode != 0:
            operation, errors = stopped_at(run)
            missing = unreachable_hosts()
            if missing and re.search(r"no such host|Could not resolve|lookup", errors):
                assert_installed_before(host, site_file, operation)
                lacks(f"{' and '.join(missing)}: the deploy stopped at '{operation}': {errors}")
        assert run.returncode == 0, run.output
