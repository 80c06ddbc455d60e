"""The REPL module both engines run (``vm/device/_vrepl.py``) decides on CircuitPython's VM
what it decides on CPython: the ``... `` cases of tests/unit/virtual/test_virtual_repl_continues.py
give the same answers in the 32-bit VM (MicroPython's str, bytearray and slicing)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sensor_bridge import circuitpython_tools
from sensor_bridge.virtual.vm.engine import DEVICE_DIR
from tests.unit.virtual.test_virtual_repl_continues import CASES

ON_THE_VM = """
import json, sys
sys.path.insert(0, sys.argv[1])
from _vrepl import continues
for source in json.loads(open(sys.argv[2]).read()):
    print(json.dumps(continues(source)))
"""


def test_the_vm_continues_a_statement_as_cpython_does(tmp_path: Path) -> None:
    (vm,) = circuitpython_tools.require(circuitpython_tools.MCU_VM)
    (tmp_path / "continues.py").write_text(ON_THE_VM)
    (tmp_path / "cases.json").write_text(json.dumps([source for source, _ in CASES]))
    result = subprocess.run(
        [vm, "continues.py", str(DEVICE_DIR), "cases.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert answers == [expected for _, expected in CASES]
