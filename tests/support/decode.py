"""The rendered decode program of the example site, compiled once (vrl-python takes about half a
second)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from sensor_bridge.checks.vrl_runtime import Remap
from sensor_bridge.local.examples import SITE_EXAMPLE
from sensor_bridge.render.vrl import decode_program
from sensor_bridge.site import Site, load_site
from sensor_protocol.payloads import HOST_PROBLEMS

REASON = re.compile(
    r"(bad_topic|unknown_device|too_large|not_utf8|not_json|not_object|bad_version"
    r"|field:[a-z0-9_]+(\[\d+\])?(\.[a-z0-9_]+)?"
    r":(missing|null|wrong_type|out_of_range|unknown_key|" + "|".join(HOST_PROBLEMS) + "))"
)
"""Every dead-letter reason the decode program may give: a fixed, label-safe vocabulary."""


@cache
def example_site() -> Site:
    return load_site(SITE_EXAMPLE)


@cache
def _compiled(source: str) -> Remap:
    return Remap(source)


@cache
def _example_program() -> str:
    # Rendering the program costs more than running it: the fuzzers decode thousands.
    return decode_program(example_site())


def decode(
    topic: str, payload: bytes, received: datetime, site: Site | None = None
) -> list[dict[str, Any]]:
    """What the decode program makes of one MQTT message (received at ``received``)."""
    program = _compiled(_example_program() if site is None else decode_program(site))
    event = {"message": payload, "topic": topic, "timestamp": received}
    events: list[dict[str, Any]] = program.run(event)
    return events


def dead_letter_reason(events: list[dict[str, Any]]) -> str | None:
    """The reason if ``events`` is exactly one dead letter, None if they are all metrics."""
    if any("reason" in event for event in events):
        assert len(events) == 1, f"a dead letter comes alone: {events}"
        reason: str = events[0]["reason"]
        assert REASON.fullmatch(reason), reason
        return reason
    assert events and all("name" in event for event in events), events
    return None
