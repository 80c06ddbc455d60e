"""``os.getenv`` on the VM engine answers as CircuitPython's own C code does.

The VM is CircuitPython 10.1.0 built with its shared-module/os/getenv.c: given a FAT
filesystem holding /settings.toml (as a board's CIRCUITPY is), its ``os.getenv`` is the
board's. The engine's port of that parser (``sensor_bridge.virtual.getenv``) must give
the same value or the same ValueError text for every line of a corpus of what people write.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sensor_bridge import circuitpython_tools
from sensor_bridge.virtual.families import release_line
from sensor_bridge.virtual.getenv import Found, getenv

SETTINGS = r"""# a comment
A = 1
B = "two"
C = 3.27
D = 0x10
E = "esc\n\t\"q\" \u00e9 \U0001F600 \x"
F =   -7   # trailing comment
G = "unterminated
H = "x" trailing
I = true
J =
K = "ok" # comment
 L = 5
M=6
N = 08
O = 1_000
R = "\uZZZZ"
S = 0b101
T = +3
U = "\U00110000"
V = 0x
W = "tab	inside"
AB = 9
[section]
P = 1
"""
KEYS = "A B C D E F G H I J K L M N O R S T U V W AB P Q".split()

ON_THE_VM = """
import json, os, sys


class Blocks:
    def __init__(self, path, count):
        self.file = open(path, "w+b")
        for _ in range(count):
            self.file.write(bytes(512))
        self.count = count

    def readblocks(self, number, buffer):
        self.file.seek(number * 512)
        self.file.readinto(buffer)

    def writeblocks(self, number, buffer):
        self.file.seek(number * 512)
        self.file.write(buffer)

    def ioctl(self, op, arg):
        return self.count if op == 4 else 512 if op == 5 else 0


settings = open(sys.argv[1], "rb").read()
blocks = Blocks(sys.argv[2], 128)
os.VfsFat.mkfs(blocks)
fat = os.VfsFat(blocks)
os.umount("/")
os.mount(fat, "/")
with open("/settings.toml", "wb") as file:
    file.write(settings)
for key in sys.argv[3].split(","):
    try:
        print(json.dumps([key, os.getenv(key), None]))
    except ValueError as error:
        print(json.dumps([key, None, str(error)]))
"""


def _on_the_vm(tmp_path: Path) -> dict[str, Found]:
    (vm,) = circuitpython_tools.require(circuitpython_tools.MCU_VM)
    (tmp_path / "getenv.py").write_text(ON_THE_VM)
    (tmp_path / "settings.toml").write_text(SETTINGS)
    result = subprocess.run(
        [vm, "getenv.py", "settings.toml", "fat.img", ",".join(KEYS)],
        cwd=tmp_path,
        env={},  # os.getenv falls back to the process environment for a missing key
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answers = {}
    for line in result.stdout.splitlines():
        key, value, error = json.loads(line)
        answers[key] = Found(value, error)
    return answers


def test_port_reads_settings_as_circuitpython_10_1(tmp_path: Path) -> None:
    board = _on_the_vm(tmp_path)
    port = {key: getenv(SETTINGS, key, release_line((10, 1, 0))) for key in KEYS}
    assert port == board
    # The corpus exercises what matters: integers, strings, both errors, absent keys.
    assert board["C"].error == "invalid syntax for integer with base 10: '3.27'"
    assert board["A"].value == 1 and board["B"].value == "two" and board["P"].value is None


def test_release_10_2_returns_every_value_as_text() -> None:
    # supervisor/shared/settings.c (10.2.0): settings_get_raw_vstr, the default on any error.
    line = release_line((10, 2, 0))
    assert getenv(SETTINGS, "A", line) == Found("1")
    assert getenv(SETTINGS, "C", line) == Found("3.27")
    assert getenv(SETTINGS, "F", line) == Found("-7")
    assert getenv(SETTINGS, "G", line) == Found(None)
    assert getenv(SETTINGS, "J", line) == Found(None)
    assert getenv(SETTINGS, "B", line) == Found("two")
