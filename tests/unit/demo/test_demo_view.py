"""The live view draws what a frame holds: each furnace's reading, link and buffer, each alert
with who it pages."""

from __future__ import annotations

import re
import time

from rich.console import Console

from sensor_bridge.demo.alert_log import AlertRecord
from sensor_bridge.demo.observer import Published
from sensor_bridge.demo.view import Frame, device_line, render


def _frame(unit: str) -> Frame:
    now = time.time()
    lit = Published("online", 1100.0, 3.4, 0, now - 0.5, buffer_depth=0, health_at=now - 2)
    out = Published("offline", 1050.0, 0.02, 0, now - 30, buffer_depth=12, health_at=now - 40)
    paged = AlertRecord("FlameOut", "glory-hole", "shop", now - 5, now - 5, now - 4, "owner")
    return Frame(
        scenario="story",
        pipeline="forwarder (Vector not installed)",
        unit=unit,
        elapsed_s=61.0,
        end_s=170,
        phase="glory-hole: flame out",
        devices={"furnace-1": lit, "glory-hole": out},
        links={"furnace-1": "connected", "glory-hole": "broker unreachable, retrying"},
        alerts=[paged],
        events=["[ 55.0 s] step: glory-hole: flame out"],
    )


def test_the_view_shows_furnaces_alerts_and_the_step() -> None:
    console = Console(record=True, width=140)
    console.print(render(_frame("C")))
    text = console.export_text()
    assert "now: glory-hole: flame out" in text
    assert "1100.0 °C" in text and "3.40 V" in text
    assert "broker unreachable, retrying" in text and "offline" in text
    assert re.search(r"12 \(4\d\.\d s ago\)", text)
    assert "FlameOut" in text and "owner" in text and "firing" in text


def test_the_site_unit_applies_to_every_temperature() -> None:
    console = Console(record=True, width=140)
    console.print(render(_frame("F")))
    assert "2012.0 °F" in console.export_text()
    frame = _frame("F")
    line = device_line("furnace-1", frame.devices["furnace-1"], "connected", "F")
    assert line.startswith(
        "furnace-1: 2012.0 °F, flame 3.40 V; board connected, broker says online"
    )
