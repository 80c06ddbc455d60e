"""What the viewer sees: a ``Frame`` of the run, drawn as a rich live screen or as plain lines
(for CI logs and pipes)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sensor_bridge.alerting.units import in_unit
from sensor_bridge.demo.alert_log import AlertRecord
from sensor_bridge.demo.observer import Published


@dataclass
class Frame:
    scenario: str
    pipeline: str
    unit: str
    elapsed_s: float | None
    """Seconds since the scenario started; None while the stack starts."""
    end_s: float
    phase: str
    """The step (or start-up phase) in progress: "now: broker restart"."""
    devices: dict[str, Published]
    links: dict[str, str]
    alerts: list[AlertRecord]
    events: list[str] = field(default_factory=list)


def temperature(celsius: float | None, unit: str) -> str:
    if celsius is None:
        return "—"
    value = in_unit(celsius, unit)
    return f"{value:.1f} °{unit}"


def _age(at: float | None, now: float) -> str:
    return "—" if at is None else f"{now - at:.1f} s"


def _buffer(state: Published, now: float) -> str:
    if state.buffer_depth is None:
        return "—"
    drops = f", {state.buffer_drops} dropped" if state.buffer_drops else ""
    return f"{state.buffer_depth}{drops} ({_age(state.health_at, now)} ago)"


def device_line(device: str, state: Published, link: str, unit: str) -> str:
    """One furnace on one line, for the plain log."""
    now = time.time()
    flame = "—" if state.flame_v is None else f"{state.flame_v:.2f} V"
    faults = f", faults 0x{state.faults:x}" if state.faults else ""
    return (
        f"{device}: {temperature(state.temp_c, unit)}, flame {flame}{faults}; board {link}, "
        f"broker says {state.status}; buffer {_buffer(state, now)}; "
        f"newest reading {_age(state.reading_at, now)} old"
    )


def render(frame: Frame) -> RenderableType:
    now = time.time()
    clock = "starting" if frame.elapsed_s is None else f"{frame.elapsed_s:5.1f} s"
    header = Text.assemble(
        ("sensor-pipeline demo  ", "bold"),
        f"scenario {frame.scenario}  ·  {clock} / {frame.end_s:.0f} s  ·  "
        f"pipeline: {frame.pipeline}\n",
        ("now: ", "bold"),
        (frame.phase, "yellow"),
    )
    furnaces = Table(expand=True, title="furnaces", title_justify="left")
    for column in ("device", "temperature", "flame", "board link", "broker", "buffer", "age"):
        furnaces.add_column(column)
    for device, state in frame.devices.items():
        link = frame.links.get(device, "?")
        lit = state.flame_v is not None and state.flame_v >= 1.0
        flame = "—" if state.flame_v is None else f"{state.flame_v:.2f} V"
        furnaces.add_row(
            device,
            temperature(state.temp_c, frame.unit) + (" FAULT" if state.faults else ""),
            Text(flame, style="green" if lit else "red"),
            Text(link, style="green" if link.startswith("connected") else "red"),
            Text(state.status, style="green" if state.status == "online" else "red"),
            _buffer(state, now),
            _age(state.reading_at, now),
        )
    alerts = Table(expand=True, title="alerts", title_justify="left")
    for column in ("alert", "about", "type", "pages", "vmalert", "paged", "all-clear"):
        alerts.add_column(column)
    for record in frame.alerts:
        style = {"pending": "yellow", "firing": "bold red", "resolved": "green"}[record.state]
        alerts.add_row(
            record.name,
            record.subject,
            record.kind,
            record.route,
            Text(record.state, style=style),
            _clock(record.paged_at),
            _clock(record.all_clear_at),
        )
    if not frame.alerts:
        alerts.add_row("none", "", "", "", "", "", "")
    events = Text("\n".join(frame.events[-8:]) or "—")
    return Group(Panel(header), furnaces, alerts, Panel(events, title="events", title_align="left"))


def _clock(at: float | None) -> str:
    return "—" if at is None else time.strftime("%H:%M:%S", time.localtime(at))
