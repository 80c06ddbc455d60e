"""`sensor-bridge bundle BOARD DIR`: the CIRCUITPY tree for each supported board.

``lib/`` is .mpy compiled by CircuitPython's own mpy-cross for the release line the drive's
boot_out.txt names (10.x only); ``--source`` writes the .py tree the CPython virtual board runs.
"""

import filecmp
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sensor_bridge import bundle, circuitpython_tools
from sensor_bridge.bundle import CIRCUITPYTHON_BUILTINS, BundleError, scan_imports
from sensor_bridge.local.tools import require_tool
from tests.unit.device.subset_rules import FIRMWARE, REPO_ROOT
from tests.unit.device.test_device_boards import REQUIRED_BOARDS

# What the firmware imports today (the spec's tree); the bundle finds them by scanning.
SPEC_LIBRARIES = (
    "lib/adafruit_minimqtt/adafruit_minimqtt",
    "lib/adafruit_ticks",
    "lib/adafruit_connection_manager",
    "lib/adafruit_bus_device/spi_device",
    "lib/neopixel",
    "lib/adafruit_pixelbuf",
)

MPY_HEADER = b"C\x06\x00\x1f"
"""What CircuitPython 10.1.0's mpy-cross writes first (py/persistentcode.c, mp_raw_code_save):
'C' (CircuitPython's; MicroPython's files start with 'M' and CircuitPython refuses them),
.mpy version 6 (py/persistentcode.h), 0 (bytecode, no native code), 31-bit small ints."""

BOOT_OUT = (
    "Adafruit CircuitPython {version} on 2025-10-09; {board} with a chip\r\n"
    "Board ID:{board}\r\n"
    "UID:E6614C311B7C8A35\r\n"
)


def run_bundle(
    *args: object, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sensor_bridge", "bundle", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def drive(path: Path, board: str, version: str = "10.1.0") -> Path:
    """A directory standing in for a board's CIRCUITPY drive: its boot_out.txt."""
    path.mkdir(parents=True)
    (path / "boot_out.txt").write_text(BOOT_OUT.format(version=version, board=board))
    return path


def tree(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"boot_out.txt"}


def names(directory: Path, suffix: str) -> set[str]:
    return {p.stem for p in directory.glob("*" + suffix)}


@pytest.fixture(scope="module", params=REQUIRED_BOARDS)
def bundled(request, tmp_path_factory):
    """The tree as a board's drive gets it: lib/ compiled for the drive's CircuitPython."""
    board_id = request.param
    out = drive(tmp_path_factory.mktemp(board_id) / "CIRCUITPY", board_id)
    result = run_bundle(board_id, out)
    assert result.returncode == 0, result.stderr
    return board_id, out, result.stdout


@pytest.fixture(scope="module", params=REQUIRED_BOARDS)
def source_tree(request, tmp_path_factory):
    """The tree the CPython virtual board runs: --source."""
    board_id = request.param
    out = tmp_path_factory.mktemp(board_id) / "drive"
    result = run_bundle(board_id, out, "--source")
    assert result.returncode == 0, result.stderr
    return board_id, out


def test_lib_is_mpy_and_the_entry_points_stay_py(bundled):
    board_id, out, _ = bundled
    files = tree(out)

    assert {"code.py", "safemode.py", "settings.toml.example"} <= files
    assert "settings.toml" not in files
    assert not [name for name in files if name.startswith("lib/") and not name.endswith(".mpy")]
    for package in ("sensor_protocol", "sensor_node"):
        assert names(out / "lib" / package, ".mpy") == names(FIRMWARE / "lib" / package, ".py")
    assert names(out / "lib" / "boards", ".mpy") == {"__init__", board_id}
    for name in ("code.py", "safemode.py"):
        assert filecmp.cmp(out / name, FIRMWARE / name, shallow=False), name


def test_the_tree_has_every_library_the_firmware_needs(bundled):
    _, out, _ = bundled

    assert {name + ".mpy" for name in SPEC_LIBRARIES} <= tree(out)


def test_every_mpy_is_circuitpythons_10_1_0_bytecode(bundled, tmp_path):
    board_id, out, _ = bundled
    (mpy_cross,) = circuitpython_tools.require(circuitpython_tools.MPY_CROSS)
    sources = {
        "lib/sensor_protocol/payloads.mpy": FIRMWARE / "lib/sensor_protocol/payloads.py",
        f"lib/boards/{board_id}.mpy": REPO_ROOT / "boards" / f"{board_id}.py",
    }

    assert circuitpython_tools.mpy_cross_version(mpy_cross) == "10.1.0"
    for path in out.rglob("*.mpy"):
        assert path.read_bytes()[:4] == MPY_HEADER, path
    for name, source in sources.items():
        expected = tmp_path / "expected.mpy"
        embedded = name.removeprefix("lib/").replace(".mpy", ".py")
        subprocess.run([mpy_cross, "-s", embedded, "-o", expected, source], check=True)
        assert (out / name).read_bytes() == expected.read_bytes(), name


def test_libraries_leave_out_line_numbers_and_the_firmware_keeps_them(bundled, tmp_path):
    _, out, _ = bundled
    (mpy_cross,) = circuitpython_tools.require(circuitpython_tools.MPY_CROSS)
    spec = importlib.util.find_spec("adafruit_ticks")
    assert spec is not None and spec.origin is not None
    library = Path(spec.origin)

    def compiled(source: Path, embedded: str, *options: str) -> bytes:
        target = tmp_path / "compiled.mpy"
        subprocess.run([mpy_cross, *options, "-s", embedded, "-o", target, source], check=True)
        return target.read_bytes()

    with_lines = compiled(library, "adafruit_ticks.py")
    assert (out / "lib/adafruit_ticks.mpy").read_bytes() == compiled(
        library, "adafruit_ticks.py", "-O3"
    )
    assert len((out / "lib/adafruit_ticks.mpy").read_bytes()) < len(with_lines)
    own = FIRMWARE / "lib/sensor_node/link.py"
    assert (out / "lib/sensor_node/link.mpy").read_bytes() == compiled(own, "sensor_node/link.py")


def test_it_prints_what_it_wrote(bundled):
    board_id, out, stdout = bundled
    lines = stdout.splitlines()

    assert {line.removeprefix("wrote ") for line in lines[:-1]} == {
        str(out / name) for name in tree(out)
    }
    assert lines[-1] == f"{len(tree(out))} files for {board_id} in {out}"


def test_the_source_form_is_a_copy_of_the_firmware(source_tree):
    board_id, out = source_tree
    files = tree(out)
    sources = {
        "code.py": FIRMWARE / "code.py",
        "lib/sensor_protocol/payloads.py": FIRMWARE / "lib/sensor_protocol/payloads.py",
        f"lib/boards/{board_id}.py": REPO_ROOT / "boards" / f"{board_id}.py",
    }

    assert not [name for name in files if name.endswith((".mpy", ".pyc", ".pyi"))]
    assert {name + ".py" for name in SPEC_LIBRARIES} <= files
    assert names(out / "lib" / "sensor_node", ".py") == names(FIRMWARE / "lib/sensor_node", ".py")
    assert names(out / "lib" / "boards", ".py") == {"__init__", board_id}
    for name, source in sources.items():
        assert filecmp.cmp(out / name, source, shallow=False), name


def test_every_import_in_the_tree_is_satisfied_on_the_board(source_tree):
    _, out = source_tree
    present = {p.stem for p in (out / "lib").iterdir()}

    for path in out.rglob("*.py"):
        parts = path.relative_to(out).parts
        library = parts[0] == "lib" and parts[1] not in ("sensor_protocol", "sensor_node", "boards")
        required, _ = scan_imports(path, module_level=library)
        missing = required - CIRCUITPYTHON_BUILTINS - present
        assert not missing, f"{path.relative_to(out)} needs {sorted(missing)}"


COMPILED_BY_MICROPYTHON: set[bytes] = set()
"""Files already compiled by the test below: the boards' trees share most of theirs."""


def test_every_bundled_file_compiles_with_micropythons_mpy_cross(source_tree, tmp_path):
    _, out = source_tree

    for path in sorted(out.rglob("*.py")):
        text = path.read_bytes()
        if text in COMPILED_BY_MICROPYTHON:
            continue
        result = subprocess.run(
            [require_tool("mpy-cross"), "-o", tmp_path / "out.mpy", path],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"{path.relative_to(out)}: {result.stderr}"
        COMPILED_BY_MICROPYTHON.add(text)


# Which CircuitPython the tree is compiled for.


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused bundle prints; nothing on stdout."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("version", ["9.2.1", "8.2.10", "11.0.0-alpha.1"])
def test_a_release_line_without_tested_mpy_is_refused_in_one_line(version, tmp_path):
    out = drive(tmp_path / "CIRCUITPY", "raspberry_pi_pico_w", version)

    line = refusal(run_bundle("raspberry_pi_pico_w", out))

    assert line == (
        f"sensor-bridge: {out}/boot_out.txt: CircuitPython {version}: no tested .mpy format for "
        "its release line; supported: 10.x (mpy-cross 10.1.0): install CircuitPython 10.x on "
        "the board first (circuitpython.org/downloads)"
    )
    assert tree(out) == set()


def test_a_directory_without_boot_out_needs_the_version_or_source(tmp_path):
    out = tmp_path / "out"

    line = refusal(run_bundle("raspberry_pi_pico_w", out))

    assert line == (
        f"sensor-bridge: {out}/boot_out.txt does not exist, so the .mpy format is unknown: mount "
        "the board's CIRCUITPY drive, or pass --circuitpython VERSION (the board's, e.g. "
        "10.1.0), or --source for the virtual board"
    )
    assert not out.exists()


def test_the_version_can_be_given_for_a_directory_without_boot_out(tmp_path):
    out = tmp_path / "out"

    result = run_bundle("adafruit_qtpy_esp32s2", out, "--circuitpython", "10.0.3")

    assert result.returncode == 0, result.stderr
    assert (out / "lib" / "sensor_node" / "app.mpy").read_bytes()[:4] == MPY_HEADER
    assert "9.2.1" in refusal(run_bundle("adafruit_qtpy_esp32s2", out, "--circuitpython", "9.2.1"))
    assert "'ten' is not a CircuitPython version" in refusal(
        run_bundle("adafruit_qtpy_esp32s2", out, "--circuitpython", "ten")
    )


def test_a_version_contradicting_boot_out_is_refused(tmp_path):
    out = drive(tmp_path / "CIRCUITPY", "raspberry_pi_pico_w", "9.2.1")

    line = refusal(run_bundle("raspberry_pi_pico_w", out, "--circuitpython", "10.1.0"))

    assert "CircuitPython 9.2.1" in line
    assert tree(out) == set()


def test_a_drive_of_another_board_is_refused(tmp_path):
    out = drive(tmp_path / "CIRCUITPY", "raspberry_pi_pico_w")

    line = refusal(run_bundle("adafruit_qtpy_esp32s2", out))

    assert line == (
        f"sensor-bridge: {out}/boot_out.txt says board raspberry_pi_pico_w, not "
        "adafruit_qtpy_esp32s2: plug in the adafruit_qtpy_esp32s2, or bundle for "
        "raspberry_pi_pico_w"
    )
    assert tree(out) == set()


def fake_mpy_cross(folder: Path, version_line: str) -> Path:
    folder.mkdir()
    script = folder / "mpy-cross"
    script.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    script.chmod(0o755)
    return folder


def test_an_mpy_cross_of_another_release_is_refused(tmp_path):
    tools = fake_mpy_cross(
        tmp_path / "tools", "CircuitPython 10.2.0 on 2025-11-20; mpy-cross emitting mpy v6.3"
    )
    out = tmp_path / "out"

    line = refusal(
        run_bundle("raspberry_pi_pico_w", out, "--circuitpython", "10.1.0",
                   env={"CIRCUITPYTHON_TOOLS": str(tools)}),
    )  # fmt: skip

    assert line == (
        f"sensor-bridge: {tools}/mpy-cross is mpy-cross 10.2.0; CircuitPython 10.x .mpy files "
        "come from the tested mpy-cross 10.1.0: build that one as docs/circuitpython-tools.md "
        "says"
    )
    assert not out.exists()


def test_micropythons_mpy_cross_is_not_taken_for_circuitpythons(tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "mpy-cross").symlink_to(require_tool("mpy-cross"))

    line = refusal(
        run_bundle("raspberry_pi_pico_w", tmp_path / "out", "--circuitpython", "10.1.0",
                   env={"CIRCUITPYTHON_TOOLS": str(tools)}),
    )  # fmt: skip

    assert f"{tools}/mpy-cross is not CircuitPython's mpy-cross" in line


def test_without_mpy_cross_the_bundle_says_where_to_get_it(tmp_path):
    line = refusal(
        run_bundle("raspberry_pi_pico_w", tmp_path / "out", "--circuitpython", "10.1.0",
                   env={"CIRCUITPYTHON_TOOLS": str(tmp_path / "nowhere")}),
    )  # fmt: skip

    assert line == (
        "sensor-bridge: CircuitPython's mpy-cross not found in "
        f"$CIRCUITPYTHON_TOOLS={tmp_path}/nowhere: build CircuitPython 10.1.0's tools as "
        "docs/circuitpython-tools.md says and put them there, or set $CIRCUITPYTHON_TOOLS to "
        "the folder that holds them"
    )


# Writing over an older tree.


def test_a_second_bundle_replaces_old_code_and_keeps_the_settings(tmp_path):
    out = tmp_path / "CIRCUITPY"
    assert run_bundle("raspberry_pi_pico_w", out, "--source").returncode == 0
    (out / "settings.toml").write_text('MQTT_BROKER = "pi.local"\n')
    (out / "lib" / "sensor_node" / "removed_module.py").write_text("")
    (out / "boot_out.txt").write_text(
        BOOT_OUT.format(version="10.1.0", board="raspberry_pi_pico2_w")
    )

    result = run_bundle("raspberry_pi_pico2_w", out)

    assert result.returncode == 0, result.stderr
    assert (out / "settings.toml").read_text() == 'MQTT_BROKER = "pi.local"\n'
    assert (out / "boot_out.txt").read_text().startswith("Adafruit CircuitPython 10.1.0")
    # CircuitPython imports X.py before X.mpy: no .py of the old tree may stay in lib/.
    assert not [name for name in tree(out) if name.startswith("lib/") and name.endswith(".py")]
    assert names(out / "lib" / "boards", ".mpy") == {"__init__", "raspberry_pi_pico2_w"}


def test_the_source_form_replaces_a_compiled_tree(tmp_path):
    out = drive(tmp_path / "CIRCUITPY", "raspberry_pi_pico_w")
    assert run_bundle("raspberry_pi_pico_w", out).returncode == 0

    result = run_bundle("raspberry_pi_pico_w", out, "--source")

    assert result.returncode == 0, result.stderr
    assert not [name for name in tree(out) if name.endswith(".mpy")]


def test_conflicting_options_and_an_unwritable_place_are_one_line(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")

    both = refusal(
        run_bundle("raspberry_pi_pico_w", tmp_path, "--source", "--circuitpython", "10.1.0")
    )
    unwritable = refusal(run_bundle("raspberry_pi_pico_w", blocker / "CIRCUITPY", "--source"))

    assert both.startswith("sensor-bridge bundle: --circuitpython and --source exclude each other")
    assert unwritable.startswith(f"sensor-bridge: cannot write {blocker}/CIRCUITPY")
    assert "check that the drive is mounted" in unwritable


def test_an_unknown_board_is_one_line_naming_the_supported_ones(tmp_path):
    line = refusal(run_bundle("arduino_uno", tmp_path / "out"))

    assert "unknown board 'arduino_uno'" in line
    for board_id in REQUIRED_BOARDS:
        assert board_id in line
    assert not (tmp_path / "out").exists()


# Planning against a firmware tree made up for the test.


@pytest.fixture
def firmware(tmp_path, monkeypatch):
    root = tmp_path / "firmware"
    (root / "lib" / "sensor_protocol").mkdir(parents=True)
    (root / "lib" / "sensor_protocol" / "__init__.py").write_text("")
    (root / "safemode.py").write_text("import microcontroller\n")
    (root / "settings.toml.example").write_text("")
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "__init__.py").write_text("")
    (tmp_path / "boards" / "test_board.py").write_text("import board\n")
    monkeypatch.setattr(bundle, "firmware_dir", lambda: root)
    return root


def planned(board_id: str = "test_board") -> set[str]:
    return {str(dest) for _, dest in bundle.plan(board_id)}


def test_a_library_the_firmware_imports_is_bundled_with_its_own_imports(firmware):
    (firmware / "code.py").write_text("import time\nimport neopixel\n")

    files = planned()

    assert "lib/neopixel.py" in files
    assert "lib/adafruit_pixelbuf.py" in files, "the library's own import"
    assert "lib/adafruit_minimqtt/adafruit_minimqtt.py" not in files


def test_an_import_the_firmware_does_not_use_is_not_bundled(firmware):
    (firmware / "code.py").write_text(
        "try:\n    import adafruit_ticks\nexcept ImportError:\n    pass\n"
    )

    assert not [name for name in planned() if "adafruit" in name]


def test_a_function_level_import_in_firmware_counts(firmware):
    (firmware / "code.py").write_text("def later():\n    import adafruit_ticks\n")

    assert "lib/adafruit_ticks.py" in planned()


def test_an_import_nothing_provides_fails_the_bundle(firmware):
    (firmware / "code.py").write_text("import adafruit_display_text\n")

    with pytest.raises(BundleError, match="adafruit_display_text"):
        bundle.plan("test_board")


def test_a_cpython_only_import_fails_the_bundle(firmware):
    (firmware / "code.py").write_text("import logging\n")

    with pytest.raises(BundleError, match=r"'logging'.*neither a CircuitPython built-in"):
        bundle.plan("test_board")


def test_a_missing_firmware_file_fails_the_bundle(firmware):
    with pytest.raises(BundleError, match=r"code\.py is missing"):
        bundle.plan("test_board")


def test_imports_under_a_platform_test_are_optional(tmp_path):
    source = tmp_path / "lib.py"
    source.write_text(
        "import sys\n"
        "if sys.implementation.name != 'circuitpython':\n"
        "    from typing import List\n"
        "try:\n"
        "    from struct import unpack\n"
        "except ImportError:\n"
        "    from ustruct import unpack\n"
        "def on_cpython():\n"
        "    import socket\n"
    )

    assert scan_imports(source, module_level=True) == ({"sys"}, {"typing", "struct", "ustruct"})
    assert scan_imports(source) == ({"sys", "socket"}, {"typing", "struct", "ustruct"})
