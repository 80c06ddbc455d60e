"""Each board's own view of its connection, from its console lines (`<uptime> <LEVEL> <event>
k=v`): sooner than the broker's, whose last will waits for the keep-alive to expire."""

from __future__ import annotations

from dataclasses import dataclass

from sensor_bridge.console.lines import parse_line
from sensor_bridge.virtual.launcher import VirtualBoardProcess

LINK_STATES = {
    "boot": "booting",
    "wifi_connected": "wifi joined",
    "wifi_connect_failed": "no wifi, retrying",
    "mqtt_connected": "connected",
    "mqtt_connect_failed": "broker unreachable, retrying",
    "mqtt_disconnected": "disconnected",
    "publish_failed": "disconnected",
    "radio_restart": "restarting its radio",
    "backfill_start": "connected, backfilling",
    "backfill_done": "connected",
}
"""Console events that change the connection state, and the state they mean."""

NEWS = frozenset({*LINK_STATES, "fault_set", "fault_clear", "buffer_drop", "reset"})
"""Console events worth a line in the event log."""


@dataclass(frozen=True)
class ConsoleEvent:
    device: str
    event: str
    fields: dict[str, str]

    def text(self) -> str:
        detail = " ".join(f"{key}={value}" for key, value in self.fields.items())
        return f"{self.device} {self.event} {detail}".rstrip()


class BoardLinks:
    """Reads every board's new console lines at each ``poll``."""

    def __init__(self, boards: dict[str, VirtualBoardProcess]) -> None:
        self._boards = boards
        self._read = dict.fromkeys(boards, 0)
        self.states = dict.fromkeys(boards, "starting")

    def poll(self) -> list[ConsoleEvent]:
        """Console events since the last poll (the newsworthy ones)."""
        news = []
        for device, board in self._boards.items():
            lines = board.lines[self._read[device] :]
            self._read[device] += len(lines)
            for line in lines:
                parsed = parse_line(line)
                if parsed is None:
                    continue
                _, _, event, fields = parsed
                if event in LINK_STATES:
                    self.states[device] = LINK_STATES[event]
                if event in NEWS:
                    news.append(ConsoleEvent(device, event, fields))
        return news
