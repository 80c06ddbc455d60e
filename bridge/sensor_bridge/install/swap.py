"""Staging, the swap of validated files into place, and rollback to the set they replaced.

* ``stage`` writes the whole rendered tree under the staging dir; ``mark_validated`` records
  the hash of each file once the checkers passed; ``swap`` refuses files that differ from what
  was validated.
* ``swap`` first copies the live version of every file it will replace to the previous set
  (with a manifest: mode, owner, and whether the file existed), then replaces each live file
  atomically, created with its final mode and owner.
* ``rollback`` puts the previous set back (and removes files the swap created).
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from sensor_bridge.errors import BridgeError
from sensor_bridge.install.changes import Change
from sensor_bridge.install.layout import Layout
from sensor_bridge.install.ownership import owner
from sensor_bridge.render import RenderedFile, user_path
from sensor_bridge.site import Site
from sensor_bridge.tree import file_mode, write_tree

VALIDATED = "validated.json"
MANIFEST = "previous.json"


def stage(layout: Layout, files: Sequence[RenderedFile]) -> None:
    """The whole rendered tree, fresh, under the staging dir (root only: it holds secrets)."""
    shutil.rmtree(layout.staging, ignore_errors=True)
    (layout.state / VALIDATED).unlink(missing_ok=True)
    layout.state.mkdir(parents=True, exist_ok=True)
    layout.state.chmod(0o700)
    write_tree(layout.staging, files)


def mark_validated(layout: Layout, files: Sequence[RenderedFile]) -> None:
    digests = {str(f.path): _digest(f.text) for f in files}
    _write_json(layout.state / VALIDATED, digests)


def check_validated(layout: Layout, changes: Sequence[Change]) -> None:
    """Every file about to go live is the one the checkers passed."""
    try:
        digests = json.loads((layout.state / VALIDATED).read_text())
    except FileNotFoundError:
        raise BridgeError("nothing validated to swap: run sensor-bridge deploy stage") from None
    for change in changes:
        if digests.get(str(change.file.path)) != _digest(change.file.text):
            raise BridgeError(
                f"/{change.file.path} differs from what was validated: run sensor-bridge deploy "
                "stage again"
            )


def swap(layout: Layout, changes: Sequence[Change], site: Site) -> list[dict[str, Any]]:
    """Keep the live version of each changed file, then put the new one in its place.

    Returns the manifest entries (what rollback restores)."""
    if not changes:
        return []
    shutil.rmtree(layout.previous, ignore_errors=True)
    entries = [_keep(layout, change.file) for change in changes]
    # Written before any live file changes: an interrupted swap can still be rolled back.
    _write_json(layout.state / MANIFEST, entries)
    for change in changes:
        _install(layout, change.file.path, change.file.text, file_mode(change.file), site)
    return entries


def rollback(layout: Layout) -> list[dict[str, Any]]:
    """Restore the set the last swap replaced; its manifest entries (nothing: empty)."""
    manifest = layout.state / MANIFEST
    try:
        entries: list[dict[str, Any]] = json.loads(manifest.read_text())
    except FileNotFoundError:
        return []
    for entry in entries:
        path = PurePosixPath(entry["path"])
        live = layout.live(path)
        if not entry["existed"]:
            live.unlink(missing_ok=True)
            continue
        kept = layout.previous / path
        _replace(live, kept.read_bytes(), entry["mode"], (entry["uid"], entry["gid"]))
    manifest.unlink()
    shutil.rmtree(layout.previous, ignore_errors=True)
    return entries


def rollback_plan(layout: Layout) -> list[dict[str, Any]]:
    """What ``rollback`` would restore, without restoring it."""
    try:
        entries: list[dict[str, Any]] = json.loads((layout.state / MANIFEST).read_text())
    except FileNotFoundError:
        return []
    return entries


def _keep(layout: Layout, rendered: RenderedFile) -> dict[str, Any]:
    live = layout.live(rendered.path)
    entry: dict[str, Any] = {"path": str(rendered.path), "service": rendered.service}
    try:
        stat = live.stat()
    except FileNotFoundError:
        return {**entry, "existed": False}
    kept = layout.previous / rendered.path
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(live, kept)
    mode = stat.st_mode & 0o7777
    return {**entry, "existed": True, "mode": mode, "uid": stat.st_uid, "gid": stat.st_gid}


def _install(layout: Layout, path: PurePosixPath, text: str, mode: int, site: Site) -> None:
    live = layout.live(path)
    ids = _ids(owner(path, site)) if layout.is_live else None
    _make_parents(layout, path, site)
    _replace(live, text.encode(), mode, ids)


def _make_parents(layout: Layout, path: PurePosixPath, site: Site) -> None:
    """Missing directories; under the service user's home they are that user's."""
    home = user_path(site)
    for parent in reversed(path.parents):
        directory = layout.live(parent)
        if parent == PurePosixPath(".") or directory.is_dir():
            continue
        directory.mkdir()
        if layout.is_live and parent.is_relative_to(home):
            uid, gid = _ids(owner(parent, site))
            os.chown(directory, uid, gid)


def _replace(live: Path, data: bytes, mode: int, ids: tuple[int, int] | None) -> None:
    """Atomically: a temp file in the same dir, with its final mode and owner, renamed."""
    handle, temp = tempfile.mkstemp(dir=live.parent, prefix=f".{live.name}.")
    try:
        os.fchmod(handle, mode)
        if ids is not None:
            os.fchown(handle, *ids)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, live)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _ids(names: tuple[str, str]) -> tuple[int, int]:
    user, group = names
    try:
        return pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        raise BridgeError(
            f"no user or group {user}:{group} on this host: the deploy installs the packages "
            "and creates the service user first"
        ) from None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
