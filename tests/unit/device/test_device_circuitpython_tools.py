"""Finding CircuitPython's own tools: ``$CIRCUITPYTHON_TOOLS``, else ../shared/tools/circuitpython
beside the checkout, else .tools/circuitpython. They are required: a missing one is one line
that says how to get it, and this suite runs them, never skips them."""

import subprocess
from pathlib import Path

import pytest

from sensor_bridge import circuitpython_tools
from sensor_bridge.circuitpython_tools import (
    ENV_VARIABLE,
    MCU_VM,
    MPY_CROSS,
    TOOLS,
    CircuitPythonToolError,
    mpy_cross_version,
    require,
    tools_folder,
)


def folder_with(path: Path, *names: str) -> Path:
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_text("#!/bin/sh\n")
        (path / name).chmod(0o755)
    return path


@pytest.fixture
def defaults(tmp_path, monkeypatch):
    """The two default folders, under tmp_path, and no variable."""
    monkeypatch.delenv(ENV_VARIABLE, raising=False)
    shared = tmp_path / "shared" / "tools" / "circuitpython"
    local = tmp_path / "checkout" / ".tools" / "circuitpython"
    monkeypatch.setattr(circuitpython_tools, "DEFAULT_FOLDERS", (shared, local))
    return shared, local


def test_the_tools_are_here_and_run():
    mpy_cross, mcu, host = require()

    assert mpy_cross_version(mpy_cross) == "10.1.0"
    for vm, word_max in ((mcu, "2147483647"), (host, "9223372036854775807")):
        result = subprocess.run(
            [vm, "-c", "import sys; print(sys.implementation.version, sys.maxsize)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.stdout.split() == ["(10,", "1,", "0,", "'')", word_max], result.stderr


def test_the_variable_names_the_folder(tmp_path, defaults, monkeypatch):
    folder_with(defaults[0], *TOOLS)
    chosen = folder_with(tmp_path / "mine", *TOOLS)
    monkeypatch.setenv(ENV_VARIABLE, str(chosen))

    assert tools_folder() == chosen
    assert require(MPY_CROSS) == [chosen / MPY_CROSS]


def test_a_folder_the_variable_names_is_not_passed_over(tmp_path, defaults, monkeypatch):
    folder_with(defaults[0], *TOOLS)
    monkeypatch.setenv(ENV_VARIABLE, str(tmp_path / "empty"))

    with pytest.raises(CircuitPythonToolError) as raised:
        require()

    assert str(raised.value) == (
        f"CircuitPython's mpy-cross, circuitpython-mcu, circuitpython not found in "
        f"${ENV_VARIABLE}={tmp_path}/empty: build CircuitPython 10.1.0's tools as "
        f"docs/circuitpython-tools.md says and put them there, or set ${ENV_VARIABLE} to the "
        "folder that holds them"
    )


def test_shared_tools_beside_the_checkout_come_first(defaults):
    shared, local = defaults
    folder_with(shared, *TOOLS)
    folder_with(local, *TOOLS)

    assert require() == [shared / name for name in TOOLS]


def test_the_checkouts_own_folder_when_there_is_no_shared_one(defaults):
    _, local = defaults
    folder_with(local, *TOOLS)

    assert require(MPY_CROSS, MCU_VM) == [local / MPY_CROSS, local / MCU_VM]


def test_one_line_names_only_what_is_missing(defaults):
    shared, _ = defaults
    folder_with(shared, MPY_CROSS)

    assert require(MPY_CROSS) == [shared / MPY_CROSS]
    with pytest.raises(CircuitPythonToolError, match=r"^CircuitPython's circuitpython-mcu, "):
        require(MPY_CROSS, MCU_VM, "circuitpython")


def test_nothing_anywhere_names_the_folders_looked_in(defaults):
    shared, local = defaults

    with pytest.raises(CircuitPythonToolError) as raised:
        require(MPY_CROSS)

    assert f"not found in {local} (no ${ENV_VARIABLE}; {shared} does not exist)" in str(
        raised.value
    )


def test_a_machine_without_32_bit_libraries_is_told_to_install_them(
    tmp_path, defaults, monkeypatch
):
    shared, _ = defaults
    folder_with(shared, *TOOLS)
    monkeypatch.setattr(circuitpython_tools, "I386_LOADER", tmp_path / "no-ld-linux.so.2")

    assert require(MPY_CROSS) == [shared / MPY_CROSS]
    with pytest.raises(CircuitPythonToolError, match=r"install Debian's libc6-i386"):
        require(MCU_VM)


def test_a_program_that_is_not_circuitpythons_mpy_cross_is_named(tmp_path):
    fake = folder_with(tmp_path / "tools", MPY_CROSS) / MPY_CROSS
    fake.write_text(
        "#!/bin/sh\necho 'MicroPython v1.29.0 on 2026-08-01; mpy-cross emitting mpy v6.3'\n"
    )

    with pytest.raises(CircuitPythonToolError, match=r"is not CircuitPython's mpy-cross"):
        mpy_cross_version(fake)
