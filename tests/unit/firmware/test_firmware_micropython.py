"""The firmware's logic on a real MicroPython (the WebAssembly build, as for the contract),
with only the device sources in its filesystem: what CPython forgives, the board would not."""

from pathlib import Path

import adafruit_bus_device
import adafruit_ticks

from tests.unit.device.subset_rules import FIRMWARE, SHARED_PACKAGE
from tests.unit.device.test_device_micropython import run_on_micropython
from tests.unit.firmware import micropython_checks

HERE = Path(__file__).resolve().parent
SOURCES = (
    SHARED_PACKAGE,
    FIRMWARE / "lib" / "sensor_node",
    Path(adafruit_ticks.__file__),
    Path(adafruit_bus_device.__file__).parent,
    HERE / "micropython_checks.py",
)


def test_the_checks_pass_on_cpython(capsys):
    assert micropython_checks.run() == 0
    assert "0 failed" in capsys.readouterr().out


def test_the_checks_pass_on_micropython():
    result = run_on_micropython(
        "import micropython_checks\nfailed = micropython_checks.run()", *SOURCES
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "implementation micropython" in result.stdout
    assert f"{len(micropython_checks.CHECKS)} passed, 0 failed" in result.stdout
