"""The real deploy (deploy/deploy.py, pyinfra's @ssh connector, as the README's several-Pis
command runs it) on a booted Debian 13 host: a fresh trixie, the example site, the images
the site pins served by digest from a registry inside the host.

The registry holds VictoriaMetrics and vmalert under their repository names, built from
Debian trixie's victoria-metrics 1.112.0 (the version the site pins): docker.io cannot be
reached from this machine. The site names them ``127.0.0.1:PORT/victoriametrics/...:v1.112.0@
sha256:<the digest the registry returned>``, so the deploy's own pull runs, by digest, with no
switch of its own. Vector's image and Alloy's package have no Debian source: the host gets the
stand-ins of ``tests/support/standins.py`` under their names (Vector's image in the same
registry; Alloy from a signed apt repository on loopback, which the deploy takes as Grafana's
mirror through its host data ``apt_mirrors``). They answer health checks and nothing else:
what this test proves about Vector and Alloy is that their units are generated, installed,
enabled, started and watched, not that they run.
"""

from __future__ import annotations

import contextlib
import fnmatch
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from sensor_bridge import tls
from sensor_bridge.alerting import alerts, promql
from sensor_bridge.install import host_setup
from sensor_bridge.install.host_setup import SENSOR_BRIDGE
from sensor_bridge.install.layout import SITE_DIR
from sensor_bridge.local.examples import example_site
from sensor_bridge.local.furnaces import virtual_furnace
from sensor_bridge.local.pipeline import start_pipeline
from sensor_bridge.local.receiver import Notified, WebhookReceiver
from sensor_bridge.registry import MOSQUITTO, SERVICES, Service, here
from sensor_bridge.render import RenderContext, alertmanager, monit, victoriametrics
from sensor_bridge.site import VICTORIA_METRICS_VERSION, Site, load_secrets, load_site
from sensor_bridge.store.client import Store
from sensor_bridge.tree import render_site
from tests.integration.deploy.pyinfra_runs import (
    BROKER_CONF,
    DEPLOY,
    EXPIRATION,
    FURNACE_DASHBOARD,
    ROLLBACK,
    RULES,
    TYPO,
    Run,
    edit_first_threshold,
    pyinfra,
)
from tests.support.debian_host import (
    SSH_USER,
    DebianHost,
    Ssh,
    booted,
    push_image,
    victoria_metrics_layer,
)
from tests.support.standins import ALLOY_VERSION, VECTOR_ENTRYPOINT, AptMirror, alloy_mirror
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

DEPLOY_TIMEOUT_S = 900
"""A first deploy installs a dozen packages and the host package's wheels from the network."""
IMAGES = {
    "victoriametrics/victoria-metrics": ("/usr/bin/victoria-metrics",),
    "victoriametrics/vmalert": ("/usr/bin/vmalert",),
    "timberio/vector": VECTOR_ENTRYPOINT,
}
"""Repository -> entrypoint (the tool the checkers call, ``install.container_tools``)."""
USER = ("systemctl", "--user", "--machine=sensor@.host")
DEVICE_ADDRESS = 'device_address = "192.168.1.10"'
IRM_URLS = {"owner_url": "owner", "support_url": "support", "heartbeat_url": "heartbeat"}
STATUS = (str(SENSOR_BRIDGE), "status")
STORED_TIMEOUT_S = 90
PAGE_TIMEOUT_S = 120
MONIT_TIMEOUT_S = 150
"""Two of monit's 30 s cycles and the broker's start, with room."""


def site_with_local_images(directory: Path, registry: str) -> Path:
    """The example site, its images the registry's, by digest."""
    site_file = example_site(directory)
    text = site_file.read_text()
    layer = victoria_metrics_layer()
    for repository, entrypoint in IMAGES.items():
        (line,) = [
            line for line in text.splitlines() if f'image = "docker.io/{repository}:' in line
        ]
        pinned = line.split('"')[1]
        tag = pinned.rpartition(":")[2]
        digest = push_image(registry, repository, tag, layer, entrypoint)
        text = text.replace(pinned, f"{registry}/{repository}:{tag}@{digest}")
    site_file.write_text(text)
    assert f":{VICTORIA_METRICS_VERSION}@sha256:" in load_site(site_file).storage.image
    return site_file


def inventory(directory: Path, access: Ssh, site_file: Path, mirror: AptMirror) -> Path:
    path = directory / "inventory.py"
    data = {**access.inventory_data(), "site_file": str(site_file)}
    data["apt_mirrors"] = mirror.host_data()
    path.write_text(f"hosts = [('debian-13', {data!r})]\n")
    return path


def installed(host: DebianHost, package: str) -> str:
    """The installed version of ``package`` on the host ('' when it is not installed)."""
    done = host.run("dpkg-query", "-W", "-f=${Status} ${Version}", package, check=False)
    status, _, version = done.stdout.rpartition(" ")
    return version if status == "install ok installed" else ""


def manager(service: Service) -> tuple[str, ...]:
    return USER if service.user else ("systemctl",)


def invocations(host: DebianHost, site: Site) -> dict[str, str]:
    """Each unit's InvocationID: a new one means systemd started it again."""
    found = {}
    for service in here(site):
        shown = host.run(*manager(service), "show", "-p", "InvocationID", "--value", service.unit)
        found[service.unit] = shown.stdout.strip()
    return found


def live_files(host: DebianHost, site_file: Path) -> dict[str, bytes]:
    """The deployed configuration, as read from the host's root."""
    return {
        str(rendered.path): (host.root / rendered.path).read_bytes()
        for rendered in render_site(site_file, [host.root])
    }


def irm_at(site_file: Path, receiver: WebhookReceiver) -> None:
    """The secrets file's IRM URLs pointed at ``receiver``, standing in for Grafana IRM."""
    secrets_file = site_file.parent / "secrets.toml"
    lines = secrets_file.read_text().splitlines(keepends=True)
    for index, line in enumerate(lines):
        key = line.partition(" = ")[0]
        if key in IRM_URLS:
            lines[index] = f'{key} = "{receiver.url(IRM_URLS[key])}"\n'
    secrets_file.write_text("".join(lines))


@dataclass
class Deployed:
    host: DebianHost
    site_file: Path
    inventory: Path
    receiver: WebhookReceiver

    def deploy(self, deploy_file: Path = DEPLOY) -> Run:
        return pyinfra(str(self.inventory), deploy_file, "-y", timeout=DEPLOY_TIMEOUT_S)

    @property
    def site(self) -> Site:
        return load_site(self.site_file)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """A fresh trixie host after its first deploy (which must succeed)."""
    workdir = tmp_path_factory.mktemp("trixie")
    with (
        booted(workdir / "host") as host,
        alloy_mirror(workdir / "alloy") as mirror,
        WebhookReceiver() as receiver,
    ):
        access = host.start_ssh()
        site_file = site_with_local_images(workdir / "site", host.start_registry())
        irm_at(site_file, receiver)
        # The boards reach the broker on this machine's loopback: its certificate names it.
        text = site_file.read_text()
        assert DEVICE_ADDRESS in text
        site_file.write_text(text.replace(DEVICE_ADDRESS, 'device_address = "127.0.0.1"'))
        inv = inventory(workdir, access, site_file, mirror)
        done = Deployed(host, site_file, inv, receiver)
        first = done.deploy()
        assert first.returncode == 0, first.output[-6000:]
        yield done


def test_the_first_deploy_installs_and_starts_every_unit(deployed: Deployed) -> None:
    host, site = deployed.host, deployed.site
    for package in host_setup.DEBIAN_PACKAGES:
        assert installed(host, package), package
    # Held to the versions tested, by preferences apt reads (the pinned version's priority).
    preferences = host.root / host_setup.APT_PREFERENCES_PATH.relative_to("/")
    assert preferences.read_text() == host_setup.apt_preferences()
    for package in host_setup.TESTED_VERSIONS:
        version = installed(host, package)
        assert fnmatch.fnmatchcase(version, host_setup.version_pattern(package)), (package, version)
        policy = host.run("apt-cache", "policy", package).stdout
        assert f" *** {version} 1001\n" in policy, policy
    assert installed(host, "alloy") == ALLOY_VERSION
    podman = tuple(int(n) for n in installed(host, "podman").split(".")[:2])
    assert podman >= (4, 4), f"quadlets need podman 4.4, trixie has {podman}"
    assert (host.root / "var/lib/systemd/linger/sensor").is_file()
    for timer in host_setup.USER_TIMERS:
        assert host.run(*USER, "is-active", timer).stdout.strip() == "active", timer
    data = host.run("stat", "-c", "%U %a", str(site.storage.data_path)).stdout.split()
    assert data == ["sensor", "750"]
    for service in SERVICES:
        active = host.run(*manager(service), "is-active", service.unit, check=False)
        enabled = host.run(*manager(service), "is-enabled", service.unit, check=False)
        state = (active.stdout.strip(), enabled.stdout.strip())
        # A quadlet's unit is generated: "generated" is its enabled state.
        assert state in {("active", "enabled"), ("active", "generated")}, (service.unit, state)
    for image in (site.storage.image, site.alerts.image, site.pipeline.image):
        exists = f"podman image exists {image}"
        assert host.run("sh", "-c", exists, check=False).returncode == 0, image
        as_sensor = f"cd / && runuser -u sensor -- {exists}"
        assert host.run("sh", "-c", as_sensor, check=False).returncode == 0, image


def test_the_secrets_went_through_the_ssh_users_private_directory(deployed: Deployed) -> None:
    """The deploy logs in as the Pi's user and works through sudo: a secret is uploaded into
    that user's 0700 directory, moved into place and left root's alone (deploy/sensor_deploy/
    ops.py ``secret_file``)."""
    host, site = deployed.host, deployed.site
    upload = f"/home/{SSH_USER}/.sensor-pipeline-upload"
    assert host.run("stat", "-c", "%U %a", upload).stdout.split() == [SSH_USER, "700"]
    assert host.run("ls", "-A", upload).stdout == ""
    secrets = PurePosixPath("/", SITE_DIR, site.secrets_file)
    for secret in (secrets, secrets.parent / tls.CA_KEY_FILE):
        assert host.run("stat", "-c", "%U %a", str(secret)).stdout.split() == ["root", "600"]


def test_chrony_reads_the_lan_configuration(deployed: Deployed) -> None:
    """trixie's chronyd takes the rendered LAN access (``-p`` prints the configuration it read,
    confdir included). Whether it serves time is not tested here: under nspawn it may not set
    this machine's clock."""
    host = deployed.host
    printed = host.run("chronyd", "-p").stdout
    for network in host_setup.LAN_RANGES:
        assert f"allow {network}" in printed.splitlines(), printed
    assert "local stratum 10" in printed.splitlines(), printed


def test_a_second_deploy_changes_nothing(deployed: Deployed) -> None:
    before = (
        live_files(deployed.host, deployed.site_file),
        invocations(deployed.host, deployed.site),
    )
    second = deployed.deploy()
    assert second.returncode == 0, second.output[-6000:]
    assert second.totals()["changed"] == 0, second.output[-6000:]
    after = (
        live_files(deployed.host, deployed.site_file),
        invocations(deployed.host, deployed.site),
    )
    assert after == before


def has_readings(store: Store, site: Site, device: str) -> bool:
    """Whether the store holds a reading of ``device``."""
    store.flush()
    selector = f'{promql.SEQUENCE}{{studio="{site.studio}",device="{device}"}}'
    return any(series["values"] for series in store.export(selector))


def test_the_furnaces_reach_the_store_status_is_well_and_a_flame_out_pages(
    deployed: Deployed, tmp_path: Path
) -> None:
    """Every device of the site as a virtual board on the deployed broker's TLS listener with
    its provisioned password; the forwarder (Vector's stand-in for the data) as the pipeline
    user; the readings in the deployed VictoriaMetrics; ``sensor-bridge status`` on the host;
    a flame out through the deployed vmalert and Alertmanager to the owner's receiver."""
    site = deployed.site
    context = RenderContext(site, load_secrets(site))
    store = Store(site.storage.urls)
    with contextlib.ExitStack() as running:
        pipeline = start_pipeline(
            context,
            broker_port=site.broker.plain_port,
            vm_url=f"http://{victoriametrics.address(site)}",
            workdir=tmp_path / "pipeline",
        )
        running.enter_context(pipeline)
        boards = {
            device.id: running.enter_context(
                virtual_furnace(
                    site,
                    context.secrets,
                    device,
                    site.broker.port,
                    tmp_path / "boards",
                    engine="vm",
                )
            )
            for device in site.devices
        }
        for device, board in boards.items():
            deadline = time.monotonic() + STORED_TIMEOUT_S
            while not has_readings(store, site, device):
                assert time.monotonic() < deadline, (
                    f"{device}: no reading stored in {STORED_TIMEOUT_S} s; the pipeline "
                    f"({pipeline.pipeline_kind}): {vars(pipeline).get('processed')} processed, "
                    f"errors {vars(pipeline).get('errors')}; the board: "
                    + " | ".join([*board.lines[-12:], *board.stderr_lines[-8:]])
                )
                time.sleep(1)

        deadline = time.monotonic() + PAGE_TIMEOUT_S
        while (status := deployed.host.run(*STATUS, check=False)).returncode:
            assert time.monotonic() < deadline, (
                f"status on the host: {status.stdout}{status.stderr}"
            )
            time.sleep(5)

        watched = site.devices[0].id
        boards[watched].control.send({"cmd": "furnace", "flame": "out"})

        def paged(found: list[Notified]) -> bool:
            return any(
                n.path == "owner"
                and n.status == "firing"
                and n.labels.get("alertname") == alerts.FLAME_OUT
                and n.labels.get("device") == watched
                for n in found
            )

        assert deployed.receiver.wait_for(paged, PAGE_TIMEOUT_S), deployed.receiver.notified()


def test_monit_starts_a_stopped_mosquitto_again(deployed: Deployed) -> None:
    """Mosquitto ends cleanly (SIGTERM, exit 0): systemd leaves it down; monit starts it."""
    host = deployed.host

    def main_pid() -> str:
        shown = host.run("systemctl", "show", "-p", "MainPID", "--value", "mosquitto.service")
        return shown.stdout.strip()

    def monit_log() -> str:
        return host.run("cat", "/var/log/monit.log", check=False).stdout

    before, logged = main_pid(), len(monit_log())
    assert before != "0"
    host.run("kill", "-TERM", before)
    wait_until(lambda: main_pid() not in {"0", before}, MONIT_TIMEOUT_S, "Mosquitto started again")
    after = main_pid()
    # Monit's own lines since the kill (as trixie's monit 5.34 words them) say that it, not
    # systemd, saw the broker gone and ran the rendered restart, and found the new process.
    restart = monit.restart_command(MOSQUITTO, deployed.site, monit.Options())
    seen = (
        "'mosquitto' process is not running",
        f"'mosquitto' exec: '{restart}'",
        f"'mosquitto' process is running with pid {after}",
    )
    try:
        wait_until(
            lambda: all(line in monit_log()[logged:] for line in seen),
            MONIT_TIMEOUT_S,
            "monit's log of the restart",
        )
    except AssertionError as missing:
        raise AssertionError(f"{missing}:\n{monit_log()[logged:]}") from None


def test_one_threshold_rewrites_the_rules_and_restarts_only_vmalert(deployed: Deployed) -> None:
    host, site_file = deployed.host, deployed.site_file
    files, started = live_files(host, site_file), invocations(host, deployed.site)
    edit_first_threshold(site_file)
    third = deployed.deploy()
    assert third.returncode == 0, third.output[-6000:]
    now = live_files(host, site_file)
    changed = {path for path in now if now[path] != files.get(path)}
    assert changed == {RULES, FURNACE_DASHBOARD}, changed
    restarted = {
        unit for unit, id_ in invocations(host, deployed.site).items() if started[unit] != id_
    }
    assert restarted == {"vmalert.service"}


def test_a_config_the_hosts_broker_refuses_stops_the_deploy(deployed: Deployed) -> None:
    host, site_file = deployed.host, deployed.site_file
    files, started = live_files(host, site_file), invocations(host, deployed.site)
    original = site_file.read_text()
    assert EXPIRATION in original
    site_file.write_text(original.replace(EXPIRATION, TYPO))
    try:
        broken = deployed.deploy()
    finally:
        site_file.write_text(original)
    assert broken.returncode != 0
    assert f"FAILED /{BROKER_CONF} (mosquitto)" in broken.output, broken.output[-6000:]
    assert "deploy stopped before touching the live configuration" in broken.output
    assert live_files(host, site_file) == files
    assert invocations(host, deployed.site) == started


def test_a_failed_verify_rolls_back_by_itself(deployed: Deployed) -> None:
    """Alertmanager moved to a port something else holds: every check passes, the restarted
    Alertmanager cannot listen, the verify fails and the previous set comes back."""
    host, site_file = deployed.host, deployed.site_file
    files = live_files(host, site_file)
    original = site_file.read_text()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        assert "\nport = 9093\n" in original
        site_file.write_text(original.replace("\nport = 9093\n", f"\nport = {port}\n"))
        try:
            failed = deployed.deploy()
        finally:
            site_file.write_text(original)
    assert failed.returncode != 0
    assert "are back in place" in failed.output, failed.output[-6000:]
    assert live_files(host, site_file) == files
    address = alertmanager.address(deployed.site)
    health = f"curl -fsS http://{address}/-/healthy"
    assert host.run("sh", "-c", health, check=False).returncode == 0


def test_rollback_restores_the_previous_set(deployed: Deployed) -> None:
    host, site_file = deployed.host, deployed.site_file
    before = live_files(host, site_file)
    edit_first_threshold(site_file)
    assert deployed.deploy().returncode == 0
    started = invocations(host, deployed.site)
    rolled_back = deployed.deploy(ROLLBACK)
    assert rolled_back.returncode == 0, rolled_back.output[-6000:]
    assert live_files(host, site_file) == before
    restarted = {
        unit for unit, id_ in invocations(host, deployed.site).items() if started[unit] != id_
    }
    assert restarted == {"vmalert.service"}
