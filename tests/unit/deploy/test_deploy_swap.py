"""Swap and rollback on a temp root, without the checkers: the previous set, modes, removal of
files the swap created, and refusal of files that were not validated."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from sensor_bridge.errors import BridgeError
from sensor_bridge.install import swap
from sensor_bridge.install.changes import Change, changes
from sensor_bridge.install.layout import Layout
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderedFile
from sensor_bridge.tree import CHANGED, NEW

KEPT = RenderedFile(PurePosixPath("etc/mosquitto/conf.d/sensor-pipeline.conf"), "new conf\n")
SECRET = RenderedFile(
    PurePosixPath("etc/prometheus/alertmanager.yml"), "token: abc\n", mode=0o644, secret=True
)
CREATED = RenderedFile(PurePosixPath("home/sensor/.config/new/file.yaml"), "fresh\n")


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    root = tmp_path / "root"
    (root / KEPT.path).parent.mkdir(parents=True)
    (root / KEPT.path).write_text("old conf\n")
    (root / KEPT.path).chmod(0o640)
    return Layout(root)


def test_changes_compare_text_and_mode(layout: Layout, tmp_path: Path) -> None:
    site = example_context(tmp_path / "site").site
    found = changes([KEPT, SECRET, CREATED], layout, site)
    assert [(c.file.path, c.status) for c in found] == [
        (KEPT.path, CHANGED),
        (SECRET.path, NEW),
        (CREATED.path, NEW),
    ]
    (layout.root / KEPT.path).write_text(KEPT.text)
    assert [c.status for c in changes([KEPT], layout, site)] == [CHANGED]  # still 0640
    (layout.root / KEPT.path).chmod(0o644)
    assert changes([KEPT], layout, site) == []


def test_swap_then_rollback(layout: Layout, tmp_path: Path) -> None:
    site = example_context(tmp_path / "site").site
    files = [KEPT, SECRET, CREATED]
    swap.stage(layout, files)
    swap.mark_validated(layout, files)
    found = changes(files, layout, site)
    swap.check_validated(layout, found)

    swap.swap(layout, found, site)

    assert (layout.root / KEPT.path).read_text() == "new conf\n"
    assert (layout.root / SECRET.path).stat().st_mode & 0o777 == 0o600
    assert (layout.root / CREATED.path).read_text() == "fresh\n"
    assert changes(files, layout, site) == []
    assert [e["path"] for e in swap.rollback_plan(layout)] == [str(f.path) for f in files]

    restored = swap.rollback(layout)

    assert len(restored) == 3
    assert (layout.root / KEPT.path).read_text() == "old conf\n"
    assert (layout.root / KEPT.path).stat().st_mode & 0o777 == 0o640
    assert not (layout.root / SECRET.path).exists()
    assert not (layout.root / CREATED.path).exists()
    assert swap.rollback(layout) == []


def test_swap_refuses_what_was_not_validated(layout: Layout) -> None:
    swap.stage(layout, [KEPT])
    with pytest.raises(BridgeError, match="nothing validated"):
        swap.check_validated(layout, [Change(KEPT, CHANGED)])
    swap.mark_validated(layout, [KEPT])
    edited = RenderedFile(KEPT.path, "edited after the checks\n")
    with pytest.raises(BridgeError, match="differs from what was validated"):
        swap.check_validated(layout, [Change(edited, CHANGED)])


def test_a_staging_root_is_not_live(tmp_path: Path) -> None:
    assert not Layout(tmp_path).is_live
    assert Layout(Path("/")).is_live
