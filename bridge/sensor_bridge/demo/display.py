"""Where frames go: a rich live screen on a terminal, plain lines elsewhere (CI logs, pipes)."""

from __future__ import annotations

import time
from typing import Self

from rich.console import Console
from rich.live import Live

from sensor_bridge.demo.view import Frame, device_line, render

STATUS_EVERY_S = 10.0
"""How often the plain log prints each furnace's state."""


class LiveDisplay:
    def __init__(self, console: Console) -> None:
        self._live = Live(console=console, refresh_per_second=4, auto_refresh=False)

    def show(self, frame: Frame) -> None:
        self._live.update(render(frame), refresh=True)

    def event(self, elapsed_s: float | None, text: str) -> None:
        """Events are part of the frame."""

    def __enter__(self) -> Self:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()


class PlainDisplay:
    def __init__(self) -> None:
        self._status_due = 0.0

    def show(self, frame: Frame) -> None:
        now = time.monotonic()
        if frame.elapsed_s is None or now < self._status_due:
            return
        self._status_due = now + STATUS_EVERY_S
        for device, state in frame.devices.items():
            self.event(frame.elapsed_s, device_line(device, state, frame.links[device], frame.unit))

    def event(self, elapsed_s: float | None, text: str) -> None:
        stamp = "start" if elapsed_s is None else f"{elapsed_s:5.1f} s"
        print(f"[{stamp}] {text}", flush=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        """Nothing to restore."""
