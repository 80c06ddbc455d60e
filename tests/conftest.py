"""What every test run states first: which pipeline the tests that need one run. Which
directories a plain run leaves out. And each test's marker, from its directory."""

from pathlib import Path

import pytest

from sensor_bridge.local.pipeline import VectorPipeline

TESTS_DIR = Path(__file__).parent
HIL_DIR = TESTS_DIR / "hil"
DEBIAN_HOST_DIR = TESTS_DIR / "debian_host"
TIERS = ("unit", "integration", "system", "hil", "debian_host")
"""Directories under tests/ whose name is their tests' marker (registered in pyproject.toml):
`pytest -m unit`, `-m "not system"`."""
LONG_FIRST = ("integration/vm", "system", "integration/node", "integration/hil")
"""Where the tests that wait in real time live (the VM runs at speed 1): run first, so that
the two workers (`--dist loadfile`) end together instead of one waiting on a long file
handed out last."""


def pytest_report_header() -> str:
    if VectorPipeline.available():
        return "pipeline: vector (the real Vector on the rendered config)"
    return "pipeline: forwarder (Vector is not installed: the rendered VRL runs in vrl-python)"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # The HIL suite talks to a board: it runs only when given one (`hatch run hil -- --port`);
    # CI runs it against the virtual board from tests/integration/hil.
    if collection_path == HIL_DIR and not config.getoption("port", default=None):
        return True
    # The deploy on a booted Debian 13 host binds the stack's fixed ports (vmalert's, monit's,
    # ...) on this machine and keeps both cores busy: it runs alone, when asked for by its
    # marker (`hatch run debian-host`, which .ci/run runs after the suite).
    if collection_path == DEBIAN_HOST_DIR and "debian_host" not in config.getoption("markexpr"):
        return True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: before -m deselects by marker.
    for item in items:
        tier = item.path.relative_to(TESTS_DIR).parts[0]
        if tier in TIERS:
            item.add_marker(tier)
    items.sort(key=_long_first)


def _long_first(item: pytest.Item) -> int:
    where = item.path.relative_to(TESTS_DIR).as_posix()
    for rank, directory in enumerate(LONG_FIRST):
        if where.startswith(directory + "/"):
            return rank
    return len(LONG_FIRST)
