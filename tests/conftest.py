"""What every test run states first: which pipeline the tests that need one run. And which
directories a plain run leaves out."""

from pathlib import Path

import pytest

from sensor_bridge.local.pipeline import VectorPipeline

HIL_DIR = Path(__file__).parent / "hil"


def pytest_report_header() -> str:
    if VectorPipeline.available():
        return "pipeline: vector (the real Vector on the rendered config)"
    return "pipeline: forwarder (Vector is not installed: the rendered VRL runs in vrl-python)"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # The HIL suite talks to a board: it runs only when given one (`hatch run hil -- --port`);
    # CI runs it against the virtual board from tests/integration/hil.
    if collection_path == HIL_DIR and not config.getoption("port", default=None):
        return True
    return None
