"""Scenario files: timed control commands, ``[{"at_s": 30, "cmd": "net", "state": "down"}]``.

``at_s`` is virtual seconds since power-on (the first boot); the command is either the
event's other keys (``cmd`` naming it) or a dict under ``cmd``. Events already applied
before a reset are not applied again after it.
"""

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from sensor_bridge.virtual.clock import VirtualClock


class Event(NamedTuple):
    at_s: float
    command: dict[str, Any]


def load_scenario(path: Path) -> list[Event]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path}: a scenario is a JSON list of events")
    events = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or "at_s" not in item or "cmd" not in item:
            raise ValueError(f"{path}: event {index} needs 'at_s' and 'cmd'")
        at_s = float(item["at_s"])
        if isinstance(item["cmd"], dict):
            command = dict(item["cmd"])
        else:
            command = {k: v for k, v in item.items() if k != "at_s"}
        events.append(Event(at_s, command))
    return sorted(events, key=lambda event: event.at_s)


class ScenarioRunner:
    def __init__(
        self,
        events: list[Event],
        clock: VirtualClock,
        apply: Callable[[dict[str, Any]], None],
        *,
        start: int,
        progress: Callable[[int], None],
    ) -> None:
        self._events = events
        self._clock = clock
        self._apply = apply
        self._start = start
        self._progress = progress

    def start(self) -> None:
        threading.Thread(target=self._run, name="virtual-scenario", daemon=True).start()

    def _run(self) -> None:
        for index in range(self._start, len(self._events)):
            event = self._events[index]
            self._clock.sleep_until(event.at_s)
            # Recorded before applying: a reset event must not fire again after the reset.
            self._progress(index + 1)
            self._apply(event.command)
