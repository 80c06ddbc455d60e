"""A bad settings.toml: one clear console line, the error colour, and no crash loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_node.status_led import COLOURS, CONFIG_ERROR
from tests.support.node import FEATHER_S3, boots, make_drive
from tests.support.waiting import stays_true


@pytest.mark.parametrize(
    ("key", "value"),
    [("SAMPLE_PERIOD_S", "abc"), ("DEVICE_ID", None), ("MAINS_HZ", 55)],
)
def test_bad_setting_names_the_key_and_waits_without_crashing(
    tmp_path: Path, broker: Mosquitto, key: str, value: object
) -> None:
    drive = make_drive(tmp_path / "drive", FEATHER_S3, broker.port, **{key: value})
    with VirtualBoardProcess(drive, speed=20) as board:
        line = board.wait_for(r" ERROR settings ", 30)
        # Two virtual minutes: long enough for any crash loop to show.
        stays_true(
            lambda: board.returncode is None and boots(board) == 1, 6, "no reset, no crash loop"
        )
        status = board.status()
    assert f"key={key}" in line
    errors = [x for x in board.lines if " ERROR settings " in x]
    assert errors == [line], "the same problem is printed once, not in a loop"
    assert boots(board) == 1, "no reset, no crash loop"
    assert [x for x in board.lines if "Traceback" in x] == []
    # The NeoPixel runs dimmed: compare the colour, not the brightness.
    led = status["led"]
    expected = COLOURS[CONFIG_ERROR]
    assert max(led) > 0
    assert [round(c / max(led), 1) for c in led] == [round(c / max(expected), 1) for c in expected]
