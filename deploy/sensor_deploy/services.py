"""One ``@deploy`` per part of the stack; each operation is named so the log reads as a story.

``service`` installs what a service of the registry that this Pi runs needs (its packages, from
its repository, or its image and data directory) and enables it at boot; ``configuration``
renders, validates and swaps every service's files at once (nothing is swapped unless
everything validates); ``activation`` then restarts what changed. On a staging root
(``--data root=DIR``, the tests) the system steps are not run: ``recorded_system_steps`` writes
them to a file under the root instead.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path, PurePosixPath

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import apt, files, server, systemd

from sensor_bridge import tls
from sensor_bridge.install import host_setup, preflight
from sensor_bridge.install.activation import Unit, unit_of
from sensor_bridge.install.layout import SITE_DIR
from sensor_bridge.registry import AptRepository, Quadlet, Service, here
from sensor_bridge.site import Site
from sensor_deploy import ops
from sensor_deploy.facts import DpkgArchitecture, OsRelease
from sensor_deploy.target import Target

REPO = Path(__file__).resolve().parents[2]
HOST_REQUIREMENTS = REPO / "deploy" / "host-requirements.txt"
"""The host package's dependencies, hash-pinned (``deploy/requirements.py`` writes it)."""
VERIFY_TIMEOUT_S = 300
"""VictoriaMetrics opening its data and Vector's first connection can take minutes on a Pi."""


def activation_order(site: Site) -> list[Unit]:
    """The units of the services this Pi runs, in the registry's order (monit last)."""
    return [unit_of(entry) for entry in here(site)]


@deploy("Preflight")
def check_preflight(target: Target) -> None:
    """Debian 13+ on 64-bit, or stop with one line saying what is needed."""
    problem = preflight.problem(
        host.get_fact(OsRelease, root=str(target.root)), host.get_fact(DpkgArchitecture)
    )
    if problem is not None:
        raise DeployError(f"{host.name}: {problem}")


@deploy("Host basics")
def host_basics() -> None:
    """The base packages, and apt held to the versions of the service packages the deploy was
    tested with (before any of them is installed)."""
    apt.packages(
        name="Install python3-venv, curl and gpg (the host package's venv, Grafana's key)",
        packages=list(host_setup.BASE_PACKAGES),
        update=True,
        cache_time=3600,
    )
    files.put(
        name="Hold the service packages to the versions tested (apt preferences)",
        src=StringIO(host_setup.apt_preferences()),
        dest=str(host_setup.APT_PREFERENCES_PATH),
        mode="644",
    )
    ops.tested_versions_offered(
        name="Check that apt offers the tested versions of "
        + ", ".join(host_setup.TESTED_VERSIONS),
        versions={
            package: host_setup.version_pattern(package) for package in host_setup.TESTED_VERSIONS
        },
        script=host_setup.tested_versions_script(),
    )


@deploy("Rootless podman base")
def podman_base(target: Target) -> None:
    """podman, the service user, its lingering user manager and its cleanup timer."""
    user = target.user
    apt.packages(
        name="Install podman (quadlets) and the rootless helpers",
        packages=list(host_setup.PODMAN_PACKAGES),
    )
    server.user(
        name=f"Create the service user {user} (its rootless podman runs the containers)",
        user=user,
        home=str(target.site.service_user.home_dir),
        shell="/usr/sbin/nologin",
        create_home=True,
    )
    ops.linger_enabled(
        name=f"Let {user}'s manager run at boot and without a login (linger)", user=user
    )
    systemd.service(
        name=f"Enable {user}'s systemd-tmpfiles-clean.timer (expires Vector's dead letters)",
        service=host_setup.USER_TIMERS[0],
        running=True,
        enabled=True,
        user_mode=True,
        user_name=user,
    )


def service(target: Target, entry: Service) -> None:
    """What ``entry`` needs before its configuration is swapped in, under its own title."""

    def install() -> None:
        runs = entry.runs
        if isinstance(runs, Quadlet):
            data_dir = runs.data_dir(target.site) if runs.data_dir is not None else None
            _container_service(target, runs.image(target.site), data_dir)
            return
        if runs.repository is not None:
            _repository(target.repository(runs.repository))
        _system_service(entry.title, runs.packages, unit_of(entry))

    deploy(entry.title)(install)()


def _system_service(title: str, packages: tuple[str, ...], unit: Unit) -> None:
    apt.packages(name=f"Install {title} ({', '.join(packages)})", packages=list(packages))
    # Enabled, not started here: it (re)starts once its configuration is in place.
    systemd.service(
        name=f"Enable {unit.name} at boot", service=unit.name, running=None, enabled=True
    )


def _container_service(target: Target, image: str, data_dir: Path | None = None) -> None:
    if data_dir is not None:
        files.directory(
            name=f"Create {data_dir} for {target.user}'s container",
            path=str(data_dir),
            user=target.user,
            group=target.user,
            mode="750",
        )
    ops.image_pulled(name=f"Pull {image} for {target.user}", image=image, user=target.user)
    ops.image_pulled(name=f"Pull {image} for the pre-swap checks", image=image, user="root")


def _repository(repository: AptRepository) -> None:
    """Its key, then the source; the package list is read again only when the source is new."""
    keyrings = str(Path(repository.keyring).parent)
    files.directory(name=f"Create {keyrings}", path=keyrings, mode="755")
    ops.signing_key_pinned(
        name=f"Install {repository.title}'s apt signing key {repository.fingerprint}",
        script=host_setup.pinned_key_script(repository),
        keyring=repository.keyring,
        fingerprint=repository.fingerprint,
    )
    added = apt.repo(
        name=f"Add {repository.title}'s apt repository",
        src=repository.line,
        filename=repository.file,
    )
    apt.update(name=f"Read {repository.title}'s package list", _if=added.did_change)


@deploy("Time for the sensor nodes")
def ntp() -> None:
    apt.packages(name="Install chrony", packages=list(host_setup.NTP_PACKAGES))
    conf = files.put(
        name="Serve NTP to the LAN with chrony (the nodes' default time server is this host)",
        src=StringIO(host_setup.chrony_conf()),
        dest=str(host_setup.CHRONY_CONF_PATH),
        mode="644",
    )
    systemd.service(
        name="Restart chrony (its LAN access changed)",
        service="chrony.service",
        restarted=True,
        enabled=True,
        _if=conf.did_change,
    )


@deploy("Host package")
def host_package() -> None:
    """``sensor-bridge`` (this checkout) in /opt/sensor-pipeline, linked in /usr/local/bin."""
    wheel = host.data.get("host_package_wheel") or build_wheel()
    ops.host_package_installed(
        name="Install the host package (sensor-bridge) from this checkout",
        wheel=str(wheel),
        requirements=str(HOST_REQUIREMENTS),
        venv=str(host_setup.HOST_PACKAGE_VENV),
        link=str(host_setup.SENSOR_BRIDGE),
    )


@deploy("Site files")
def site_files(target: Target) -> None:
    """A remote Pi gets the site and secrets files in /etc/sensor-pipeline (@local reads them
    where they are)."""
    site_dir = str(target.root / SITE_DIR)
    files.directory(name=f"Create {site_dir} (root only)", path=site_dir, mode="700")
    files.put(
        name="Upload the site file",
        src=str(target.site_file),
        dest=target.site_on_host,
        mode="644",
    )
    ops.secret_file(
        name="Upload the secrets file (0600, never shown)",
        src=str(target.site.secrets_path),
        dest=target.secrets_on_host,
    )
    # The studio's CA goes beside the secrets file, where the host's render signs the broker's
    # certificate with it; target() made it here if it was not yet.
    local_dir, host_dir = (
        target.site.secrets_path.parent,
        PurePosixPath(target.secrets_on_host).parent,
    )
    ops.secret_file(
        name="Upload the studio's CA key (0600, never shown)",
        src=str(local_dir / tls.CA_KEY_FILE),
        dest=str(host_dir / tls.CA_KEY_FILE),
    )
    files.put(
        name="Upload the studio's CA certificate",
        src=str(local_dir / tls.CA_CERT_FILE),
        dest=str(host_dir / tls.CA_CERT_FILE),
        mode="644",
    )


def _where(target: Target) -> dict[str, str]:
    return {
        "sensor_bridge": target.sensor_bridge,
        "site": target.site_on_host,
        "root": str(target.root),
    }


@deploy("Configuration")
def configuration(target: Target) -> None:
    """Render, validate with the real tools, then swap: a bad file never goes live."""
    ops.configuration_validated(
        name="Render the site into staging and validate it with the real tools", **_where(target)
    )
    ops.configuration_swapped(
        name="Swap the validated files into place (the previous set kept for rollback)",
        **_where(target),
    )


@deploy("Activation")
def activation(target: Target) -> None:
    """Restart or reload the units whose files changed, then check every service answers.

    When one does not, the files the swap replaced go back and their units restart again,
    without waiting for someone to run rollback; the deploy then fails, naming what did not
    answer (verify's lines above)."""
    _restart_changed(target)
    verified = ops.services_verified(
        name="Check that every service answers",
        timeout_s=VERIFY_TIMEOUT_S,
        # Not the end of the deploy: its failure is what the rollback below acts on.
        _ignore_errors=True,
        **_where(target),
    )
    with host.when(verified.did_error):
        _restore_previous_set(target)
        _restart_changed(target)
    ops.activation_done(name="Forget the restarts done", root=str(target.root))
    ops.deploy_failed(
        name="Fail the deploy if a service did not answer",
        message="a service did not answer after the restarts: the files the last swap replaced "
        "are back in place (when a previous set was kept) and their units restarted; fix the "
        "site file (see UNHEALTHY above) and deploy again",
        _if=verified.did_error,
    )


def _restart_changed(target: Target) -> None:
    for unit in activation_order(target.site):
        if unit.user:
            ops.user_unit_stopped(
                name=f"Stop {unit.name} if a rollback removed its quadlet",
                unit=unit.name,
                user=target.user,
                **_where(target),
            )
    ops.user_manager_reloaded(
        name=f"Reload {target.user}'s manager (quadlets changed)",
        user=target.user,
        **_where(target),
    )
    for unit in activation_order(target.site):
        ops.unit_activated(
            name=f"Restart or reload {unit.name} if its files changed",
            unit=unit.name,
            user_unit=unit.user,
            user=target.user,
            **_where(target),
        )


@deploy("Rollback")
def rollback(target: Target) -> None:
    _restore_previous_set(target)


def _restore_previous_set(target: Target) -> None:
    ops.previous_set_restored(
        name="Put back the files the last deploy replaced",
        sensor_bridge=target.sensor_bridge,
        root=str(target.root),
    )


@deploy("Recorded system steps")
def recorded_system_steps(target: Target) -> None:
    """On a staging root: what the system steps would do, written instead of done."""
    files.put(
        name="Record the system steps a live root runs (packages, user, linger, images, units)",
        src=StringIO(system_steps_text(target)),
        dest=str(target.layout.state / "system-steps.txt"),
        mode="644",
        create_remote_dir=True,
    )


def system_steps_text(target: Target) -> str:
    site = target.site
    data_dirs = host_setup.data_dirs(site)
    lines = [
        f"apt preferences {host_setup.APT_PREFERENCES_PATH}",
        f"apt install {' '.join(host_setup.DEBIAN_PACKAGES)}",
    ]
    for repository in host_setup.REPOSITORIES:
        lines += [
            f"apt repository {target.repository(repository).line}",
            f"apt install {' '.join(host_setup.packages(repository))}",
        ]
    lines += [
        f"user {target.user} home {site.service_user.home_dir}",
        f"loginctl enable-linger {target.user}",
        f"systemctl --user enable --now {' '.join(host_setup.USER_TIMERS)}",
        *(f"directory {d} owner {target.user}" for d in data_dirs),
        *(f"podman pull {image}" for image in host_setup.images(site)),
        f"chrony {host_setup.CHRONY_CONF_PATH}",
        f"host package {host_setup.HOST_PACKAGE_VENV} -> {host_setup.SENSOR_BRIDGE}",
        *(f"activate {u.name}{' (user)' if u.user else ''}" for u in activation_order(site)),
    ]
    return "\n".join(lines) + "\n"


def build_wheel() -> Path:
    """This checkout's wheel (hatchling builds reproducibly: same code, same bytes)."""
    out = Path(tempfile.mkdtemp(prefix="sensor-pipeline-wheel-"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
    )
    (wheel,) = out.glob("*.whl")
    return wheel
