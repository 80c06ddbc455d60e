"""Preflight as a pure function of os-release and the dpkg architecture."""

from __future__ import annotations

import pytest

from sensor_bridge.install.preflight import problem

TRIXIE = (
    'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n'
    "VERSION_CODENAME=trixie\n"
)
PI_OS_TRIXIE = (
    'PRETTY_NAME="Raspbian GNU/Linux 13 (trixie)"\nID=raspbian\nID_LIKE=debian\n'
    'VERSION_ID="13"\nVERSION_CODENAME=trixie\n'
)
BOOKWORM = (
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
    "VERSION_CODENAME=bookworm\n"
)
SID = 'PRETTY_NAME="Debian GNU/Linux forky/sid"\nID=debian\nVERSION_CODENAME=forky\n'
UBUNTU = 'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
FEDORA = 'PRETTY_NAME="Fedora Linux 41"\nID=fedora\nVERSION_ID=41\n'


@pytest.mark.parametrize(
    ("os_release", "architecture"),
    [(TRIXIE, "arm64"), (TRIXIE, "amd64"), (PI_OS_TRIXIE, "arm64"), (SID, "arm64")],
)
def test_debian_13_or_newer_on_64_bit_passes(os_release: str, architecture: str) -> None:
    assert problem(os_release, architecture) is None


def test_debian_12_is_refused_for_its_podman() -> None:
    said = problem(BOOKWORM, "arm64")
    assert said is not None
    assert "Debian GNU/Linux 12 (bookworm)" in said
    assert "Debian 13 (trixie) or newer" in said
    assert "podman 4.4" in said
    assert "\n" not in said


def test_a_32_bit_userland_is_refused_for_alloy() -> None:
    said = problem(PI_OS_TRIXIE, "armhf")
    assert said is not None
    assert "armhf" in said
    assert "64-bit" in said


@pytest.mark.parametrize("os_release", [FEDORA, "", "garbage without equals signs"])
def test_not_debian_is_refused(os_release: str) -> None:
    said = problem(os_release, "arm64")
    assert said is not None
    assert "needs Debian 13" in said


def test_ubuntu_is_refused_for_its_version_numbering() -> None:
    # Ubuntu is Debian-like but its VERSION_ID is not Debian's: 24.04 is not "Debian 24".
    assert problem(UBUNTU, "arm64") is not None
