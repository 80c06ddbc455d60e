"""`sensor-bridge virtual-board`: the user's way to a board process, with the same options."""

import json
import subprocess
import sys
from pathlib import Path

from sensor_bridge.virtual.commands import KILLED_EXIT
from tests.unit.virtual.test_virtual_board_process import make_drive

CLI = str(Path(sys.executable).with_name("sensor-bridge"))


def test_the_options_reach_the_board_and_its_exit_status_comes_back(tmp_path: Path) -> None:
    drive = make_drive(
        tmp_path,
        """
        import time, supervisor
        print("code", supervisor.runtime.safe_mode_reason)
        while True:
            time.sleep(0.05)
        """,
        files={
            "safemode.py": """
            import microcontroller, supervisor
            print("safe", supervisor.runtime.safe_mode_reason)
            microcontroller.reset()
            """
        },
    )
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps([{"at_s": 10, "cmd": "kill"}]))

    result = subprocess.run(
        [
            *(CLI, "virtual-board", "--stdout", "--drive", str(drive), "--speed", "10"),
            *("--safe-mode", "BROWNOUT", "--scenario", str(scenario)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == KILLED_EXIT, result.stderr
    lines = result.stdout.splitlines()
    assert "safe supervisor.SafeModeReason.BROWNOUT" in lines, result.stdout
    assert "code supervisor.SafeModeReason.NONE" in lines, result.stdout
    assert "speed=10 " in result.stderr


def test_what_the_vm_engine_cannot_do_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = subprocess.run(
        [CLI, "virtual-board", "--drive", str(tmp_path), "--engine", "vm", "--speed", "10"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "sensor-bridge virtual-board: --speed: the vm engine runs in real time; leave --speed "
        "at 1 (or use --engine cpython); see 'sensor-bridge virtual-board --help'\n"
    )
