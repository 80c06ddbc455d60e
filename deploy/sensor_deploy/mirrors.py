"""Host data ``apt_mirrors``: where a host takes an apt repository besides Debian's from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from pyinfra.api.exceptions import DeployError

from sensor_bridge.install.host_setup import REPOSITORIES
from sensor_bridge.registry import AptRepository

MIRROR_KEYS = ("source", "key_url", "fingerprint")


def apt_mirrors(data: object) -> dict[str, AptRepository]:
    """Host data ``apt_mirrors``: ``{"grafana": {"source": "URI suite component", "key_url":
    ..., "fingerprint": ...}}``, a copy of a repository (a studio's own mirror, or the Debian
    host test's stand-in) signed with a key the deploy pins as it pins the original's."""
    known = {repository.file: repository for repository in REPOSITORIES}
    fix = f"apt_mirrors: give {{name: {{{', '.join(MIRROR_KEYS)}}}}} for a name of {sorted(known)}"
    if not isinstance(data, Mapping):
        raise DeployError(fix)
    mirrors = {}
    for name, given in data.items():
        if name not in known or not isinstance(given, Mapping) or set(given) != set(MIRROR_KEYS):
            raise DeployError(f"{fix}, not {name!r}: {given!r}")
        if not all(isinstance(given[key], str) and given[key] for key in MIRROR_KEYS):
            raise DeployError(f"{fix}: {name}'s values must be non-empty text")
        original = known[name]
        mirrors[name] = replace(
            original,
            title=f"{original.title} (mirror)",
            source=given["source"],
            key_url=given["key_url"],
            fingerprint=given["fingerprint"].replace(" ", "").upper(),
            pinned_in="the inventory's apt_mirrors",
        )
    return mirrors
