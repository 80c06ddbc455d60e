"""The site rendered against what is live, and which files differ from it.

Rendering with the live files as ``previous`` keeps what did not change byte for byte (the
password file keeps its hashes), so a second deploy finds nothing to do.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sensor_bridge.install.layout import Layout
from sensor_bridge.install.ownership import owner
from sensor_bridge.render import RenderedFile
from sensor_bridge.site import Site
from sensor_bridge.tree import CHANGED, NEW, file_mode, render_site


@dataclass(frozen=True)
class Change:
    file: RenderedFile
    status: str
    """NEW or CHANGED (sensor_bridge.tree)."""


def render_against_live(site_file: str | os.PathLike[str], layout: Layout) -> list[RenderedFile]:
    return render_site(site_file, [layout.root])


def changes(files: Sequence[RenderedFile], layout: Layout, site: Site) -> list[Change]:
    """The files whose live copy is missing or differs in text, mode or (live hosts) owner."""
    found = []
    for rendered in files:
        status = _status(layout.live(rendered.path), rendered, site, layout.is_live)
        if status is not None:
            found.append(Change(rendered, status))
    return found


def _status(live: Path, rendered: RenderedFile, site: Site, check_owner: bool) -> str | None:
    try:
        stat = live.stat()
        text = live.read_text()
    except FileNotFoundError:
        return NEW
    if text != rendered.text or stat.st_mode & 0o7777 != file_mode(rendered):
        return CHANGED
    if check_owner and _owner_name(stat.st_uid) != owner(rendered.path, site)[0]:
        return CHANGED
    return None


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
