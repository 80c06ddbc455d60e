"""Pin each image the site names by tag to the digest its registry serves now, in the site file.

A deploy runs images by digest only. The first deploy of a site (or the first after a tag is
changed and its ``@sha256:`` removed) asks the image's registry which manifest the tag names,
with the registry API (distribution-spec's "Pulling manifests", and its token authentication
for Docker Hub: distribution's docs/spec/auth/token.md), and writes ``name:tag@digest`` into
the site file, which the owner then keeps (in git). Every later deploy, of this Pi or another,
pulls those same bytes and never asks the registry what the tag means.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path
from typing import Any

from sensor_bridge import images
from sensor_bridge.images import ImageReference
from sensor_bridge.registry import Quadlet, here
from sensor_bridge.site import Site

API_HOSTS = {"docker.io": "registry-1.docker.io"}
"""Registries whose API is served under another name (Docker Hub's, as its docs give it)."""

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
"""What a manifest request accepts: a multi-architecture index first, so the digest names the
image for every platform and podman on the Pi picks arm64's from it."""

TIMEOUT_S = 30


class PinError(Exception):
    """An image could not be pinned: the message says which and what to do."""


def _get(request: urllib.request.Request) -> tuple[bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.read(), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        error.close()  # its status and headers stay readable; the connection is let go
        raise


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def _token(challenge: str, reference: ImageReference) -> str:
    """A pull token from the realm a ``WWW-Authenticate: Bearer ...`` challenge names."""
    scheme, _, params = challenge.partition(" ")
    fields = dict(_CHALLENGE.findall(params))
    if scheme.lower() != "bearer" or "realm" not in fields:
        raise PinError(
            f"{reference.registry} asks for {scheme} authentication, which the deploy cannot give"
        )
    query = {"scope": fields.get("scope", f"repository:{reference.repository}:pull")}
    if "service" in fields:
        query["service"] = fields["service"]
    body, _ = _get(urllib.request.Request(f"{fields['realm']}?{urllib.parse.urlencode(query)}"))
    answer = json.loads(body)
    token = answer.get("token") or answer.get("access_token")
    if not token:
        raise PinError(f"{fields['realm']} gave no token")
    return str(token)


def resolve(reference: ImageReference) -> str:
    """The digest of the manifest ``reference``'s tag names at its registry now."""
    host = API_HOSTS.get(reference.registry, reference.registry)
    url = f"https://{host}/v2/{reference.repository}/manifests/{reference.tag}"
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    try:
        try:
            body, answer = _get(urllib.request.Request(url, headers=headers))
        except urllib.error.HTTPError as error:
            challenge = error.headers.get("WWW-Authenticate") if error.code == 401 else None
            if challenge is None:
                raise
            headers["Authorization"] = f"Bearer {_token(challenge, reference)}"
            body, answer = _get(urllib.request.Request(url, headers=headers))
    except urllib.error.HTTPError as error:
        raise PinError(f"{url}: {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise PinError(f"{url}: {reason}") from None
    # The body's own digest is the manifest's (the spec's content addressing); a registry's
    # Docker-Content-Digest header must agree with it.
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    claimed = answer.get("docker-content-digest", digest)
    if claimed != digest:
        raise PinError(
            f"{url}: the registry says {claimed} for a manifest whose digest is {digest}"
        )
    return digest


def unpinned(site: Site) -> dict[str, ImageReference]:
    """The site settings (``storage.image``) of the images this Pi runs that name no digest."""
    found = {}
    for service in here(site):
        if isinstance(service.runs, Quadlet):
            reference = images.parse(attrgetter(service.runs.image_setting)(site))
            if reference.digest is None:
                found[service.runs.image_setting] = reference
    return found


def with_setting(text: str, setting: str, value: str) -> str:
    """``text`` (a TOML file) with ``table.key = "value"``: the key's line rewritten where the
    table has it, else added under the table's header, else the table added at the end. The
    file's other lines and comments stay as they are."""
    table, key = setting.rsplit(".", 1)
    line = f'{key} = "{value}"'
    header = re.compile(rf"^\[{re.escape(table)}\][ \t]*(#.*)?$", re.MULTILINE)
    found = header.search(text)
    if found is None:
        return text.rstrip("\n") + f"\n\n[{table}]\n{line}\n"
    following = re.compile(r"^\[", re.MULTILINE).search(text, found.end())
    end = following.start() if following else len(text)
    existing = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=.*$", re.MULTILINE).search(
        text, found.end(), end
    )
    if existing is not None:
        return text[: existing.start()] + line + text[existing.end() :]
    return text[: found.end()] + "\n" + line + text[found.end() :]


def pin_site_file(
    site_file: Path, site: Site, resolver: Callable[[ImageReference], str] = resolve
) -> list[str]:
    """Pin every unpinned image of ``site`` in ``site_file``; one line per image pinned.

    The file is replaced whole (same mode) only once every image is resolved and the new
    text reads back as the same site with the digests: nothing is written on any failure."""
    lines = []
    text = site_file.read_text()
    for setting, reference in unpinned(site).items():
        try:
            digest = resolver(reference)
        except PinError as error:
            raise PinError(
                f"{setting} = {reference.for_podman!r} names no digest and the registry did not "
                f"tell it ({error}): deploy where {reference.registry} is reachable, or write "
                f'{setting} = "{reference.for_podman}@sha256:<digest>" in {site_file}'
            ) from None
        pinned = reference.pinned_to(digest)
        text = with_setting(text, setting, pinned)
        if _setting(tomllib.loads(text), setting) != pinned:
            raise PinError(f"{site_file}: could not write {setting} (write it by hand: {pinned!r})")
        lines.append(f"{setting}: pinned {reference.for_podman} to {digest}")
    if lines:
        _replace(site_file, text)
    return lines


def _setting(table: dict[str, Any], setting: str) -> Any:
    for key in setting.split("."):
        table = table.get(key, {})
    return table


def _replace(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o7777
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
