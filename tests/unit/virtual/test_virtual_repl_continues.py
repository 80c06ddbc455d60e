"""When the friendly REPL reads a ``... `` line: py/repl.c's ``mp_repl_continue_with_input``,
which both engines' REPL (``vm/device/_vrepl.py``) follows; the same cases run on
CircuitPython's VM in tests/integration/vm/test_vm_repl.py."""

from __future__ import annotations

import pytest

from sensor_bridge.virtual.vm.device._vrepl import continues

CASES = [
    ("", False),
    ("6 * 7", False),
    ("for n in range(2):", True),
    ("for n in range(2):\n  print(n)", True),
    ("for n in range(2):\n  print(n)\n", False),
    ("iffy = 1", False),
    ("if_ = 1", False),
    ("@decorator", True),
    ("print((1,", True),
    ("print((1,\n2))", False),
    ("x = [1, 2]", False),
    ("d = {", True),
    ("s = '''one", True),
    ("s = '''one\ntwo'''", False),
    ('s = "(" ', False),
    ("s = 'it\\'s ('", False),
    ("x = 1 + \\", True),
    ("class A: pass", True),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_continues_as_micropython_decides(source: str, expected: bool) -> None:
    assert continues(source) is expected
