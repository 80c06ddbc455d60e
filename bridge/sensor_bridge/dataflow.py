"""The data-flow verdict, from what the broker and VictoriaMetrics said (no I/O here).

For each device: its retained status on the broker (online, offline, or none yet) and the age
of its newest sample. Only one combination is the pipeline's fault: the broker says the device
is online, yet nothing it sent is recent. That is ``EXIT_STALE``, on which monit restarts
Vector. A device that is offline (or has never connected) is an alert for people, not
something a restart fixes: ``EXIT_OK``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

EXIT_OK = 0
"""Every online device's data is fresh, or no device is online."""
EXIT_STALE = 1
"""A device is online but its newest sample is too old: the pipeline stalled."""
EXIT_CANNOT_CHECK = 2
"""The broker or VictoriaMetrics could not be asked (the CLI's usual exit for an error)."""

ONLINE = "online"
OFFLINE = "offline"
UNKNOWN = "unknown"
"""No (valid) retained status: the device never connected to this broker."""

FLOWING = "flowing"
STALE = "stale"
NOT_CONNECTED = "not connected"


@dataclass(frozen=True)
class DeviceFlow:
    device: str
    state: str
    """ONLINE, OFFLINE or UNKNOWN, from the broker's retained status."""
    age_s: float | None
    """Seconds since the device's newest stored sample; None: none in the query's window."""
    verdict: str
    """FLOWING, STALE or NOT_CONNECTED."""


def assess(device: str, state: str, age_s: float | None, stale_after_s: float) -> DeviceFlow:
    if state != ONLINE:
        verdict = NOT_CONNECTED
    elif age_s is None or age_s > stale_after_s:
        verdict = STALE
    else:
        verdict = FLOWING
    return DeviceFlow(device, state, age_s, verdict)


def exit_code(flows: Sequence[DeviceFlow]) -> int:
    return EXIT_STALE if any(flow.verdict == STALE for flow in flows) else EXIT_OK


def describe(flow: DeviceFlow, window: str) -> str:
    """One line: device, broker state, newest sample, verdict."""
    age = (
        f"newest sample {_age(flow.age_s)} ago"
        if flow.age_s is not None
        else (f"no sample in the last {window}")
    )
    meaning = {
        FLOWING: "ok",
        STALE: "STALE: online on the broker, but no fresh samples (pipeline stalled)",
        NOT_CONNECTED: "not connected: an alert for people, not a pipeline fault",
    }[flow.verdict]
    return f"{flow.device}: {flow.state}, {age}: {meaning}"


def as_json(flows: Sequence[DeviceFlow], stale_after_s: float) -> dict[str, Any]:
    return {
        "exit": exit_code(flows),
        "stale_after_s": stale_after_s,
        "devices": [asdict(flow) for flow in flows],
    }


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
