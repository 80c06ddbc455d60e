"""apt held to the package versions the Debian-host test ran: the preferences file and the
check that stops a deploy when apt offers another version (run here by ``sh`` against an
``apt-cache`` that answers as apt's does)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sensor_bridge.install import host_setup
from sensor_bridge.registry import SERVICES, Package


def test_every_debian_service_package_and_podman_and_chrony_have_a_tested_version() -> None:
    debian = {
        package
        for service in SERVICES
        if isinstance(service.runs, Package) and service.runs.repository is None
        for package in service.runs.packages
    }
    assert debian | {"podman", "chrony"} == set(host_setup.TESTED_VERSIONS)


def test_the_preferences_hold_each_package_to_any_revision_of_its_tested_version() -> None:
    text = host_setup.apt_preferences()
    assert "\nPackage: monit\nPin: version 1:5.34.3-*\nPin-Priority: 1001\n" in text
    assert text.count("Pin-Priority: 1001") == len(host_setup.TESTED_VERSIONS)


def _check(tmp_path: Path, offered: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The check, with ``apt-cache policy NAME`` printing apt's lines for ``offered[NAME]``."""
    answers = "\n".join(
        f"  {name}) echo '{name}:'; echo '  Installed: (none)'; echo '  Candidate: {version}' ;;"
        for name, version in offered.items()
    )
    apt_cache = tmp_path / "apt-cache"
    apt_cache.write_text(f'#!/bin/sh\ncase "$2" in\n{answers}\nesac\n')
    apt_cache.chmod(0o755)
    return subprocess.run(
        ["sh", "-c", host_setup.tested_versions_script()],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


TRIXIE = {
    "mosquitto": "2.0.21-1",
    "mosquitto-clients": "2.0.21-1",
    "prometheus-alertmanager": "0.28.1+ds-1",
    "monit": "1:5.34.3-1",
    "chrony": "4.6.1-3+deb13u2",
    "podman": "5.4.2+ds1-2+b2",
}
"""What Debian 13.8's archive offered (2026-12-06)."""


@pytest.mark.parametrize(
    ("offered", "ok"),
    [
        ({}, True),
        ({"chrony": "4.6.1-3+deb13u7"}, True),
        ({"mosquitto": "2.0.22-1"}, False),
        ({"monit": "5.34.3-1"}, False),
        ({"podman": "(none)"}, False),
    ],
    ids=["trixie", "a-security-fix", "a-new-upstream", "another-epoch", "not-offered"],
)
def test_the_check_passes_only_tested_versions(
    tmp_path: Path, offered: dict[str, str], ok: bool
) -> None:
    done = _check(tmp_path, {**TRIXIE, **offered})
    assert (done.returncode == 0) == ok, done.stderr
    if not ok:
        (name, version), *_ = offered.items()
        pattern = host_setup.version_pattern(name)
        assert done.stderr == (
            f"{name}: apt offers version {version}, this deploy was tested with {pattern}; run "
            "hatch run debian-host with the new version and update TESTED_VERSIONS in "
            "bridge/sensor_bridge/install/host_setup.py\n"
        )
