"""Rendered trees in tests: one file's text edited, to show a checker catching it."""

from __future__ import annotations

import dataclasses
from pathlib import PurePosixPath

from sensor_bridge.render import RenderedFile


def replaced(
    files: list[RenderedFile], which: PurePosixPath | str, old: str, new: str, count: int = -1
) -> list[RenderedFile]:
    """``files`` with ``old`` replaced by ``new`` in the one file at path ``which`` (or, for a
    str, with that file name)."""
    (target,) = [f for f in files if which in (f.path, f.path.name)]
    assert old in target.text
    edited = dataclasses.replace(target, text=target.text.replace(old, new, count))
    return [edited if f is target else f for f in files]
