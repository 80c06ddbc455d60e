"""A ca.pem mbedTLS cannot read: the virtual board's ``ssl`` raises what CircuitPython's own
``ssl`` (mbedTLS 2.28.3 in ``circuitpython-mcu``) raises at ``wrap_socket``, case by case."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sensor_bridge import circuitpython_tools, tls
from tests.unit.virtual.test_virtual_ssl import Board

_PROBE = """
import json, socket, ssl
cases = json.loads(open('cases.json').read())
found = {}
for name in sorted(cases):
    context = ssl.create_default_context()
    context.load_verify_locations(cadata=cases[name])
    try:
        context.wrap_socket(socket.socket(socket.AF_INET, socket.SOCK_STREAM), server_hostname='x')
        found[name] = None
    except OSError as exc:
        found[name] = list(exc.args)
print(json.dumps(found))
"""


def _cases() -> dict[str, str]:
    good = tls.new_authority("ca errors").cert_pem.decode()
    lines = good.splitlines()
    return {
        "good": good,
        "bad_base64": good.replace(lines[2], "!!!!" + lines[2][4:]),
        "truncated": "\n".join([*lines[:4], lines[-1]]) + "\n",
        "markers_only": "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        "no_footer": "\n".join(lines[:-1]) + "\n",
        "not_pem": "a text that is no certificate\n",
        "second_bad": good + "\n".join([*lines[:3], lines[-1]]) + "\n",
    }


def test_a_ca_mbedtls_cannot_read_raises_the_same_error_on_both(tmp_path: Path) -> None:
    cases = _cases()
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "probe.py").write_text(_PROBE)
    (vm,) = circuitpython_tools.require(circuitpython_tools.MCU_VM)
    run = subprocess.run(
        [str(vm), "probe.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    on_the_vm = json.loads(run.stdout)

    board = Board()
    on_the_virtual_board: dict[str, list[object] | None] = {}
    for name, text in cases.items():
        context = board.ssl.create_default_context()
        context.load_verify_locations(cadata=text)
        sock = board.pool.socket(board.pool.AF_INET, board.pool.SOCK_STREAM)
        try:
            context.wrap_socket(sock, server_hostname="x")
            on_the_virtual_board[name] = None
        except OSError as exc:
            on_the_virtual_board[name] = list(exc.args)

    assert on_the_vm["good"] is None
    assert on_the_virtual_board == on_the_vm
