"""The rendered tree on disk: render a site with what is already in place, write it, read it back.

A tree mirrors ``/`` on the Pi. Files already in a tree (or on the live system) are handed to
the renderers as ``previous``, so what did not change renders byte for byte the same (the
password file keeps its hashes).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from sensor_bridge.errors import BridgeError
from sensor_bridge.render import RenderContext, RenderedFile, render_all
from sensor_bridge.site import load_secrets, load_site

NEW = "new"
CHANGED = "changed"
UNCHANGED = "unchanged"


def render_site(
    site_file: str | os.PathLike[str] | None, previous_roots: Sequence[Path] = ()
) -> list[RenderedFile]:
    """Every file of the site, reusing what the first of ``previous_roots`` holding it has."""
    site = load_site(site_file)
    secrets = load_secrets(site)
    files = render_all(RenderContext(site, secrets))
    previous = read_previous((f.path for f in files), previous_roots)
    if not previous:
        return files
    return render_all(RenderContext(site, secrets, previous))


def read_previous(
    paths: Iterable[PurePosixPath], roots: Sequence[Path]
) -> dict[PurePosixPath, str]:
    """The text of each of ``paths`` in the first of ``roots`` that has it."""
    previous: dict[PurePosixPath, str] = {}
    for path in paths:
        for root in roots:
            candidate = root / path
            try:
                previous[path] = candidate.read_text()
            except FileNotFoundError:
                continue
            except OSError as error:
                raise BridgeError(f"cannot read {candidate}: {error.strerror}") from None
            break
    return previous


def write_tree(out: Path, files: Sequence[RenderedFile]) -> list[tuple[RenderedFile, str]]:
    """Write ``files`` under ``out``; each with NEW, CHANGED or UNCHANGED.

    A file is replaced atomically, and created with its final mode: a secret is never readable
    by others, not even for a moment.
    """
    statuses = []
    for rendered in files:
        target = out / rendered.path
        status = _status(target, rendered)
        if status != UNCHANGED:
            _write(target, rendered)
        statuses.append((rendered, status))
    return statuses


def file_mode(rendered: RenderedFile) -> int:
    """A secret is 0600 whatever its renderer said; any other file has its own mode."""
    return 0o600 if rendered.secret else rendered.mode


def _status(target: Path, rendered: RenderedFile) -> str:
    try:
        same_text = target.read_text() == rendered.text
        same_mode = target.stat().st_mode & 0o7777 == file_mode(rendered)
    except FileNotFoundError:
        return NEW
    except OSError as error:
        raise BridgeError(f"cannot read {target}: {error.strerror}") from None
    return UNCHANGED if same_text and same_mode else CHANGED


def _write(target: Path, rendered: RenderedFile) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            os.fchmod(handle, file_mode(rendered))
            with os.fdopen(handle, "w") as stream:
                stream.write(rendered.text)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise BridgeError(f"cannot write {target}: {error.strerror}") from None


def read_tree(root: Path, files: Sequence[RenderedFile]) -> tuple[list[RenderedFile], list[str]]:
    """``files`` with the text the tree at ``root`` holds, and the paths it lacks."""
    found, missing = [], []
    for rendered in files:
        try:
            text = (root / rendered.path).read_text()
        except FileNotFoundError:
            missing.append(str(rendered.path))
            continue
        except OSError as error:
            raise BridgeError(f"cannot read {root / rendered.path}: {error.strerror}") from None
        found.append(dataclasses.replace(rendered, text=text))
    return found, missing
