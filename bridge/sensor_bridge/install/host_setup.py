"""What the Pi needs besides the rendered files: packages, package repositories, images, the
service user's directories, and the NTP server the sensor nodes use; what each service needs
comes from the registry. Data only; ``deploy/`` turns it into pyinfra operations, and the
planning test reads it to know what to expect.
"""

from __future__ import annotations

import shlex
from pathlib import PurePosixPath

from sensor_bridge.registry import SERVICES, AptRepository, Package, Quadlet, here
from sensor_bridge.site import Site

BASE_PACKAGES = ("python3-venv", "curl", "gpg")
"""The host package's virtualenv; curl fetches Grafana's key, gpg picks the pinned key out."""
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
TESTED_VERSIONS = {
    "mosquitto": "2.0.21",
    "mosquitto-clients": "2.0.21",
    "prometheus-alertmanager": "0.28.1+ds",
    "monit": "1:5.34.3",
    "chrony": "4.6.1",
    "podman": "5.4.2+ds1",
}
"""Debian 13's versions (epoch and upstream, without the Debian revision) of the packages whose
daemons run the rendered files, as ``hatch run debian-host`` deployed and ran them. A later
Debian revision of the same version (a security fix, a rebuild) installs; another version
stops the deploy before it installs anything of it."""
APT_PREFERENCES_PATH = PurePosixPath("/etc/apt/preferences.d/sensor-pipeline")


def version_pattern(package: str) -> str:
    """The versions of ``package`` the deploy takes: any Debian revision of the tested one (an
    apt_preferences glob, a shell ``case`` pattern)."""
    return f"{TESTED_VERSIONS[package]}-*"


def apt_preferences() -> str:
    """/etc/apt/preferences.d: each tested package held to its version (priority 1001: apt
    takes it over any other, and an upgrade never moves past it)."""
    return "\n".join(
        f"Explanation: sensor-pipeline's deploy was tested with this version\n"
        f"Package: {package}\nPin: version {version_pattern(package)}\nPin-Priority: 1001\n"
        for package in TESTED_VERSIONS
    )


def tested_versions_script() -> str:
    """Shell: fail with one line naming the first tested package whose candidate version (after
    the preferences above) is not the tested one: Debian moved past it, or it is not offered."""
    checks = []
    for package in TESTED_VERSIONS:
        pattern = version_pattern(package)
        problem = (
            f"{package}: apt offers version %s, this deploy was tested with {pattern}; run "
            "hatch run debian-host with the new version and update TESTED_VERSIONS in "
            "bridge/sensor_bridge/install/host_setup.py\\n"
        )
        checks.append(
            f"offered=$(apt-cache policy {package} | sed -n 's/^ *Candidate: //p'); "
            f'case "$offered" in {pattern}) ;; '
            f'*) printf {shlex.quote(problem)} "$offered" >&2; exit 1 ;; esac'
        )
    return "; ".join(checks)


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


PRIMARY_FINGERPRINTS = (
    "gpg --show-keys --with-colons {path} 2>/dev/null"
    ' | awk -F: \'$1 == "pub" {{ primary = 1; next }} primary && $1 == "fpr"'
    " {{ print $10; primary = 0 }}'"
)
"""A shell pipe printing the primary key fingerprints in the key file ``{path}``, one a line."""


def pinned_key_script(repository: AptRepository) -> str:
    """Shell: fetch ``repository``'s key file and install, as its keyring, only the key with its
    pinned fingerprint; fail with one line when the file does not hold that key (a key swapped
    on the server, or a rotation to review)."""
    fingerprint = repository.fingerprint
    url, keyring = shlex.quote(repository.key_url), shlex.quote(repository.keyring)
    found = PRIMARY_FINGERPRINTS.format(path='"$work/key.asc"')
    problem = shlex.quote(
        f"{repository.key_url} holds no key {fingerprint}: {repository.title}'s signing key "
        f"changed; check its new fingerprint and update {repository.title}'s in "
        f"{repository.pinned_in}"
    )
    # One line: pyinfra's log shows it whole.
    return "; ".join(
        [
            "set -e",
            'work="$(mktemp -d)"',
            "trap 'rm -rf \"$work\"' EXIT",
            f'curl -fsSL {url} -o "$work/all.asc"',
            'gpg --homedir "$work" --batch --quiet --import "$work/all.asc" 2>/dev/null || true',
            f'gpg --homedir "$work" --batch --armor --export {fingerprint} 2>/dev/null'
            ' > "$work/key.asc"',
            f'if [ "$({found})" != {fingerprint} ]; then echo {problem} >&2; exit 1; fi',
            f'install -m 644 "$work/key.asc" {keyring}',
        ]
    )
