"""Every release's payloads decode on this host with nothing lost, in Python and in the
pipeline's VRL (vrl-python): a fleet half-way through an update keeps every reading
(sensor_protocol's versioning rule).

tests/fixtures/contract/<major>.<minor>/ keeps what each release's firmware publishes
(tests.support.releases). The current release's files are checked to be what this firmware
writes; an older release's stay as that release wrote them (1.0's come from commit 5570efb).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.render.examples import RECEIVED, expected_events, topic
from sensor_bridge.render.vrl import CLOCK, MINOR, READINGS
from sensor_protocol import SCHEMA_MINOR, SCHEMA_VERSION, fields, payloads, topics
from tests.support.decode import dead_letter_reason, decode, example_site
from tests.support.releases import CURRENT, FIXTURES, current_release

SITE = example_site()
DECODERS = {
    topics.TELEMETRY: payloads.decode_readings,
    topics.BACKFILL: payloads.decode_readings,
    topics.HEALTH: payloads.decode_health,
    topics.STATUS: payloads.decode_status,
}
NEW_KEY = "humidity_pct"
"""A key no release has had: what a newer minor might add."""


def _version(directory: Path) -> tuple[int, int]:
    major, minor = directory.name.split(".")
    return int(major), int(minor)


RELEASES = sorted((_version(d), d) for d in FIXTURES.iterdir() if d.is_dir())
MESSAGES = [
    pytest.param(version, path, id=f"{path.parent.name}/{path.stem}")
    for version, directory in RELEASES
    for path in sorted(directory.glob("*.json"))
]


def _channel(path: Path) -> str:
    return path.stem.split("-")[0]


def _run(path: Path, payload: bytes) -> list[dict[str, Any]]:
    """The VRL's events for ``payload`` on ``path``'s channel; they must be the contract's."""
    where = topic(SITE, SITE.devices[0].id, _channel(path))
    events = decode(where, payload, RECEIVED)
    assert dead_letter_reason(events) is None, events
    assert events == expected_events(SITE, where, payload, RECEIVED)
    return events


def _samples(channel: str, sent: dict[str, Any]) -> list[tuple[str, Any]]:
    """(metric, value) of every metric field the payload carries a value for."""
    if channel == topics.STATUS:
        return []
    objects: list[dict[str, Any]] = [sent]
    table: tuple[Any, ...] = fields.HEALTH_FIELDS
    if channel != topics.HEALTH:
        objects, table = sent[READINGS], fields.READING_FIELDS
    return [
        (field.metric, obj[field.key])
        for obj in objects
        for field in table
        if field.kind is not None and obj.get(field.key) is not None
    ]


def test_the_current_and_the_previous_minor_are_kept():
    versions = [version for version, _ in RELEASES]
    assert (SCHEMA_VERSION, SCHEMA_MINOR) in versions
    if SCHEMA_MINOR:
        assert (SCHEMA_VERSION, SCHEMA_MINOR - 1) in versions
    for _, directory in RELEASES:
        channels = {_channel(path) for path in directory.glob("*.json")}
        assert channels == set(topics.CHANNELS), directory


def _clockless(sent: dict[str, Any]) -> list[int]:
    return [index for index, r in enumerate(sent.get(READINGS, [])) if r[CLOCK] is None]


@pytest.mark.parametrize(("version", "path"), MESSAGES)
def test_every_release_of_this_major_decodes_with_nothing_lost(version, path):
    """But a reading without a clock, which firmware of 1.0 and 1.1 sent until its first NTP
    sync: the host cannot place it in time (sensor_protocol.payloads), so its payload is a
    dead letter ``no_clock``, counted, its first 1 KiB kept in the dead-letter files."""
    assert version[0] == SCHEMA_VERSION, "another major's payloads are refused whole"
    payload = path.read_bytes()
    sent = json.loads(payload)

    assert DECODERS[_channel(path)](payload) == sent
    if _clockless(sent):
        where = topic(SITE, SITE.devices[0].id, _channel(path))
        reason = dead_letter_reason(decode(where, payload, RECEIVED))
        assert reason == f"field:{READINGS}[{_clockless(sent)[0]}].t:{payloads.NO_CLOCK}"
        return
    events = _run(path, payload)
    for metric, value in _samples(_channel(path), sent):
        stored = [e for e in events if e["name"] == metric]
        assert stored, f"{metric} of {path.name} is not stored"
        if isinstance(value, float):
            assert any(e["gauge"]["value"] == value for e in stored), (metric, value)


@pytest.mark.parametrize(("version", "path"), MESSAGES)
def test_a_release_carries_the_fields_of_its_minor_and_no_later_ones(version, path):
    """The table's ``since`` matches history: a field added after a release is absent from
    its payloads (so it had to be optional), and every field it had is there."""
    sent = json.loads(path.read_bytes())
    if sent.get("state") == fields.STATUS_STATES[1] and len(sent) == 2:
        return  # the last will is a fixed text outside the tables
    envelope: tuple[Any, ...] = fields.ENVELOPE_FIELDS
    body: tuple[Any, ...] = fields.HEALTH_FIELDS
    if _channel(path) == topics.STATUS:
        envelope, body = fields.STATUS_ENVELOPE_FIELDS, fields.STATUS_FIELDS
    parts: list[tuple[dict[str, Any], tuple[Any, ...]]] = [(sent, envelope + body)]
    if READINGS in sent:
        parts = [(sent, envelope)] + [(r, fields.READING_FIELDS) for r in sent[READINGS]]
    for obj, table in parts:
        had = {field.key for field in table if field.since <= version[1]}
        assert set(obj) - {READINGS} == had, path.name


def test_the_current_release_is_what_this_firmware_sends():
    kept = {path.name: path.read_bytes() for path in CURRENT.glob("*.json")}

    assert kept == current_release(), (
        f"{CURRENT.name} is released and this firmware sends something else: a new field "
        "makes a new minor (SCHEMA_MINOR), whose directory `hatch run python -m "
        "tests.support.releases` writes"
    )


@pytest.mark.parametrize("path", sorted(CURRENT.glob("*.json")), ids=lambda p: p.stem)
def test_a_board_a_minor_ahead_loses_only_its_new_fields(path):
    """What the next minor would send: this release's message with one more field in each
    object. This host drops the field it does not know and stores the rest."""
    sent = json.loads(path.read_bytes())
    if MINOR not in sent:
        return  # the last will carries no version to be ahead with
    newer = json.loads(path.read_bytes())
    for obj in [newer, *newer.get(READINGS, [])]:
        obj[NEW_KEY] = 40.5
    newer[MINOR] = SCHEMA_MINOR + 1

    decoded = DECODERS[_channel(path)](json.dumps(newer))

    assert decoded == dict(sent, **{MINOR: SCHEMA_MINOR + 1})
    if not _clockless(sent):
        assert _run(path, json.dumps(newer).encode()) == _run(path, path.read_bytes())
