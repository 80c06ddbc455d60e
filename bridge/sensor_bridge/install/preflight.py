"""Is this host one the stack runs on? A pure function of ``/etc/os-release`` and the dpkg
architecture, so it is tested on any machine.

Needed: Debian 13 (trixie) or newer, or Raspberry Pi OS on that base, because quadlets need
podman 4.4 (trixie has 5.4; Debian 12 has 4.3, without quadlet); and a 64-bit userland,
because Grafana builds Alloy for arm64 and amd64 only.
"""

from __future__ import annotations

MIN_DEBIAN = 13
DISTRIBUTIONS = ("debian", "raspbian")
"""os-release IDs: 64-bit Raspberry Pi OS says debian, the 32-bit one raspbian."""
ARCHITECTURES = ("arm64", "amd64")
# Codenames of Debian 13 and later: a testing/sid os-release has no VERSION_ID.
CODENAMES = ("trixie", "forky", "duke", "sid")
NEEDED = "Debian 13 (trixie) or newer / Raspberry Pi OS trixie, 64-bit (arm64)"


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines of os-release(5), quotes removed."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            fields[key] = value.strip().strip("\"'")
    return fields


def problem(os_release: str, architecture: str) -> str | None:
    """None when the host fits; else one line saying what it is and what is needed."""
    fields = parse_os_release(os_release)
    name = fields.get("PRETTY_NAME") or fields.get("NAME") or "an unknown OS"
    # Derivatives (Ubuntu: ID_LIKE=debian) number their releases their own way.
    if fields.get("ID") not in DISTRIBUTIONS:
        return f"this host runs {name}; the stack needs {NEEDED}"
    version = fields.get("VERSION_ID", "").split(".")[0]
    codename = fields.get("VERSION_CODENAME", "")
    new_enough = int(version) >= MIN_DEBIAN if version.isdigit() else codename in CODENAMES
    if not new_enough:
        return (
            f"this host runs {name}; the stack needs {NEEDED} "
            "(quadlets need podman 4.4, Debian 12 has 4.3)"
        )
    if architecture not in ARCHITECTURES:
        return (
            f"this host's userland is {architecture or 'unknown'}; the stack needs {NEEDED} "
            "(Alloy has no 32-bit ARM packages): install the 64-bit OS"
        )
    return None
