"""What every test run states first: which pipeline the tests that need one run."""

from sensor_bridge.local.pipeline import VectorPipeline


def pytest_report_header() -> str:
    if VectorPipeline.available():
        return "pipeline: vector (the real Vector on the rendered config)"
    return "pipeline: forwarder (Vector is not installed: the rendered VRL runs in pyvrl)"
