"""The contract's example messages, and what the pipeline must make of each.

``examples(site)`` builds messages with ``sensor_protocol.payloads``' encoders (and a few broken
on purpose), each with the metric events or the dead-letter reason the decode program must
produce. They feed Vector's unit tests (``tests.yaml``), ``sensor-bridge check`` (every VRL
program run on every example) and the test suite.

``expected_events`` is the reference the VRL is held to: the contract's own decoders
(``decode_readings`` with its time rule, ``decode_health``, ``decode_status``) plus the field
table, in plain Python. It raises ``Rejected`` for a message the pipeline must dead-letter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sensor_bridge.render import vrl
from sensor_bridge.site import Site
from sensor_protocol import SCHEMA_MINOR, SCHEMA_VERSION, fields, payloads, topics
from sensor_protocol.limits import MAX_PAYLOAD_BYTES

RECEIVED = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
"""When every example message arrives."""

_SENT_UP_MS = 3_600_000
"""The device's uptime when it publishes an example: an hour after boot."""


class Rejected(ValueError):
    """The message must become a dead letter; ``where`` names what is wrong."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


@dataclass(frozen=True)
class Example:
    name: str
    topic: str
    payload: bytes
    reason: str | None = None
    """The dead-letter reason, or None for a message that becomes metrics."""
    events: tuple[dict[str, Any], ...] = field(default=())
    received: datetime = RECEIVED

    @property
    def channel(self) -> str:
        return self.topic.rsplit("/", 1)[-1]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, exactly (no float rounding), as VRL truncates them."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _sample(entry: Any) -> Any:
    """A plausible in-range value for a field of the table (no fault bits set)."""
    if entry.kind == "flags":
        return entry.lo
    if entry.type == "bool":
        return True
    if entry.type == "str":
        return "example"[: entry.hi].ljust(entry.lo, "x")
    middle = entry.lo + (entry.hi - entry.lo) / 4
    return round(middle, 2) if entry.type == "float" else int(middle)


def _filled(table: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Every field of ``table`` with a sample value, overridden by ``values``."""
    unknown = set(values) - {entry.key for entry in table}
    if unknown:
        raise KeyError(f"not fields of the contract: {sorted(unknown)}")
    return {entry.key: values.get(entry.key, _sample(entry)) for entry in table}


def _clock(up_ms: int, received: datetime) -> int:
    """The Unix time of uptime ``up_ms`` on a set clock that sends at ``received``."""
    return epoch_ms(received) - (_SENT_UP_MS - up_ms)


def _reading(seq: int, up_ms: int, received: datetime, **values: Any) -> list[Any]:
    """A reading row in READING_KEYS order, taken ``up_ms`` after boot by a clock that is set,
    in a payload received at ``received``."""
    clock = {vrl.CLOCK: _clock(up_ms, received)}
    row = _filled(fields.READING_FIELDS, {"seq": seq, vrl.UPTIME: up_ms, **clock, **values})
    return [row[key] for key in fields.READING_KEYS]


def _readings(*rows: list[Any]) -> bytes:
    text, count = payloads.encode_readings(7, _SENT_UP_MS, list(rows))
    assert count == len(rows), "an example batch must fit one payload"
    return text.encode()


def _health(**values: Any) -> bytes:
    body = _filled(fields.HEALTH_FIELDS, values)
    return payloads.encode_health(7, _SENT_UP_MS, body).encode()


def _status(**values: Any) -> bytes:
    body = _filled(fields.STATUS_FIELDS, {vrl.STATE: fields.STATUS_STATES[0], **values})
    return payloads.encode_status(7, body).encode()


def _edited(payload: bytes, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> bytes:
    """``payload`` with the JSON value at ``path`` replaced (or removed)."""
    obj = json.loads(payload)
    parent = obj
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return json.dumps(obj).encode()


def _of_minor(batch: bytes, minor: int) -> bytes:
    """``batch`` as a board on the contract's ``minor`` sends it: without the fields of later
    minors."""
    obj = json.loads(batch)
    later = {f.key for f in fields.ENVELOPE_FIELDS + fields.READING_FIELDS if f.since > minor}
    for part in [obj, *obj[vrl.READINGS]]:
        for key in later & set(part):
            del part[key]
    if vrl.MINOR in obj:
        obj[vrl.MINOR] = minor
    return json.dumps(obj).encode()


def _messages(site: Site, received: datetime) -> list[tuple[str, str, bytes, str | None]]:
    """(name, channel, payload, dead-letter reason) of every example, received at
    ``received``."""

    def reading(seq: int, up_ms: int, **values: Any) -> list[Any]:
        return _reading(seq, up_ms, received, **values)

    def clock(up_ms: int) -> int:
        return _clock(up_ms, received)

    offline = fields.STATUS_STATES[1]
    faults = fields.FAULT_BITS[0][1] | fields.FAULT_BITS[-1][1]
    clock_reading = reading(41, _SENT_UP_MS - 500)
    batch = _readings(
        reading(30, 1_000_000),
        reading(31, 1_001_000, temp_c=None, faults=faults),
        reading(32, 1_002_000),
    )
    # What firmware before the time rule sent: readings taken before its first NTP sync
    # without a clock. The host cannot place them (module payloads): dead letters.
    clockless_batch = _readings(
        reading(30, 1_000_000, t=None),
        reading(31, 1_001_000, t=None, temp_c=None, faults=faults),
        reading(32, 1_002_000),
    )
    max_delay_ms = vrl.max_delay_ms(site)
    key = vrl.READINGS
    previous = []
    if SCHEMA_MINOR:  # a major's first release has none
        older = _of_minor(batch, SCHEMA_MINOR - 1)
        previous.append(("backfill batch of the previous minor", topics.BACKFILL, older, None))
    return [
        ("telemetry", topics.TELEMETRY, _readings(clock_reading), None),
        (
            "telemetry faulted",
            topics.TELEMETRY,
            _readings(reading(42, _SENT_UP_MS - 250, temp_c=None, flame_v=None, faults=faults)),
            None,
        ),
        (
            "telemetry without clock, faulted",
            topics.TELEMETRY,
            _readings(
                reading(42, _SENT_UP_MS - 250, t=None, temp_c=None, flame_v=None, faults=faults)
            ),
            f"field:{key}[0].t:{payloads.NO_CLOCK}",
        ),
        ("backfill batch", topics.BACKFILL, batch, None),
        (
            "backfill batch, partly without clock",
            topics.BACKFILL,
            clockless_batch,
            f"field:{key}[0].t:{payloads.NO_CLOCK}",
        ),
        (
            "backfill whose clock is ahead of its receipt",
            topics.BACKFILL,
            _readings(reading(33, 1_003_000, t=clock(1_003_000) + 2 * payloads.FUTURE_MARGIN_MS)),
            f"field:{key}[0].t:{payloads.IN_FUTURE}",
        ),
        (
            "backfill sent longer ago than the broker may queue it",
            topics.BACKFILL,
            _readings(reading(34, 1_004_000, t=clock(1_004_000) - max_delay_ms - 60_000)),
            f"field:{key}[0].t:{payloads.TOO_OLD}",
        ),
        *previous,
        (
            "backfill batch of a newer minor, with its new fields",
            topics.BACKFILL,
            _edited(_edited(batch, (vrl.MINOR,), SCHEMA_MINOR + 1), (key, 0, "humidity_pct"), 40.5),
            None,
        ),
        ("health", topics.HEALTH, _health(), None),
        ("health without wifi", topics.HEALTH, _health(rssi=None, last_error=None), None),
        ("status online", topics.STATUS, _status(), None),
        ("status offline", topics.STATUS, payloads.OFFLINE_PAYLOAD.encode(), None),
        ("not json", topics.TELEMETRY, b'{"v": 1, "boot": ', "not_json"),
        ("not utf-8", topics.TELEMETRY, b'{"v": 1, "\xff\xfe": 0}', "not_utf8"),
        ("not an object", topics.HEALTH, b"[1, 2, 3]", "not_object"),
        (
            "too large",
            topics.HEALTH,
            b'{"v": 1, "x": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}',
            "too_large",
        ),
        (
            "unsupported version",
            topics.TELEMETRY,
            _edited(batch, ("v",), SCHEMA_VERSION + 1),
            "bad_version",
        ),
        ("no version", topics.STATUS, _edited(_status(), ("v",), None, delete=True), "bad_version"),
        (
            "temperature out of range",
            topics.TELEMETRY,
            _edited(batch, (key, 0, "temp_c"), 5000.0),
            f"field:{key}[0].temp_c:out_of_range",
        ),
        (
            "missing field",
            topics.HEALTH,
            _edited(_health(), ("mem_free",), None, delete=True),
            "field:mem_free:missing",
        ),
        ("wrong type", topics.BACKFILL, _edited(batch, ("boot",), "7"), "field:boot:wrong_type"),
        (
            "null field",
            topics.BACKFILL,
            _edited(batch, (key, 2, "seq"), None),
            f"field:{key}[2].seq:null",
        ),
        (
            "unknown key",
            topics.BACKFILL,
            _edited(batch, (key, 1, "humidity"), 40),
            f"field:{key}[1]:unknown_key",
        ),
        ("empty batch", topics.BACKFILL, _edited(batch, (key,), []), f"field:{key}:out_of_range"),
        ("unknown state", topics.STATUS, _status(state=offline[:-1]), "field:state:out_of_range"),
        (
            "sampled after sending",
            topics.TELEMETRY,
            _readings(reading(43, _SENT_UP_MS + 1)),
            f"field:{key}[0].up_ms:after_sent",
        ),
        ("unknown channel", "config", b"{}", "bad_topic"),
    ]


def topic(site: Site, device: str, channel: str) -> str:
    return "/".join((site.topic_root, site.studio, device, channel))


def examples(site: Site, received: datetime = RECEIVED) -> list[Example]:
    """Every example for the site's first device, plus one from a device the site lacks, as
    sent to arrive at ``received`` (a reading's time must be near its arrival)."""
    device = site.devices[0].id
    found = []
    for name, channel, payload, reason in _messages(site, received):
        where = topic(site, device, channel)
        events = () if reason else tuple(expected_events(site, where, payload, received))
        found.append(Example(name, where, payload, reason, events, received))
    ids = {d.id for d in site.devices}
    stranger = next(f"stranger-{n}" for n in range(len(ids) + 1) if f"stranger-{n}" not in ids)
    found.append(
        Example(
            "unknown device",
            topic(site, stranger, topics.STATUS),
            payloads.OFFLINE_PAYLOAD.encode(),
            "unknown_device",
        )
    )
    return found


def _decoded(channel: str, payload: bytes, received_ms: int, max_delay_ms: int) -> dict[str, Any]:
    try:
        if channel in (topics.TELEMETRY, topics.BACKFILL):
            obj = payloads.decode_readings(payload, received_ms, max_delay_ms)
        elif channel == topics.HEALTH:
            obj = payloads.decode_health(payload)
        else:
            obj = payloads.decode_status(payload)
    except payloads.PayloadError as error:
        raise Rejected(error.field) from None
    except RecursionError:
        # json.loads recurses per nesting level; a deeply nested payload is not one we sent.
        raise Rejected(vrl.TOP_LEVEL) from None
    # Stricter than the decoders: the version is an integer, and every string can be stored
    # as UTF-8 (JSON can spell a lone surrogate, which VRL's parser refuses).
    if type(obj[vrl.VERSION]) is not int:
        raise Rejected(vrl.VERSION)
    if any(_has_surrogate(value) for value in _strings(obj)):
        raise Rejected(vrl.TOP_LEVEL)
    return obj


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [key, *_strings(item)]]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def _event(
    entry: Any, value: Any, tags: dict[str, str], when: datetime, channel: str
) -> list[dict[str, Any]]:
    if value is None:
        return []
    base = {"name": entry.metric, "kind": "absolute", "timestamp": when, "channel": channel}
    if entry.kind == "flags":
        return [
            {
                **base,
                "gauge": {"value": 1.0 if value & bit else 0.0},
                "tags": {**tags, vrl.FAULT_TAG: name},
            }
            for name, bit in fields.FAULT_BITS
        ]
    return [{**base, entry.kind: {"value": float(value)}, "tags": dict(tags)}]


def expected_events(
    site: Site, where: str, payload: bytes, received: datetime
) -> list[dict[str, Any]]:
    """The metric events for a message on topic ``where``; ``Rejected`` for a dead letter."""
    try:
        root, studio, device, channel = topics.parse_topic(where)
    except topics.TopicError:
        raise Rejected("topic") from None
    if (root, studio) != (site.topic_root, site.studio):
        raise Rejected("topic")
    known = {d.id: d for d in site.devices}
    if device not in known:
        raise Rejected("device")
    obj = _decoded(channel, payload, epoch_ms(received), vrl.max_delay_ms(site))
    tags = {"studio": studio, "device": device}
    events: list[dict[str, Any]] = []
    if channel == topics.STATUS:
        site_device = known[device]
        text = (site_device.name, site_device.location)
        labels = dict(zip(vrl.DEVICE_LABELS, text, strict=True))
        online = 1.0 if obj[vrl.STATE] == fields.STATUS_STATES[0] else 0.0
        events.append(
            {
                "name": vrl.DEVICE_ONLINE,
                "kind": "absolute",
                "gauge": {"value": online},
                "tags": {**tags, **{k: v for k, v in labels.items() if v}},
                "timestamp": received,
                "channel": channel,
            }
        )
        if obj[vrl.STATE] == fields.STATUS_STATES[0]:
            unexpected = 1.0 if fields.unexpected_reset(obj) else 0.0
            events.append(
                {
                    "name": vrl.DEVICE_UNEXPECTED_RESET,
                    "kind": "absolute",
                    "gauge": {"value": unexpected},
                    "tags": tags,
                    "timestamp": received,
                    "channel": channel,
                }
            )
    elif channel == topics.HEALTH:
        for entry in fields.HEALTH_FIELDS:
            if entry.kind is not None:
                events += _event(entry, obj.get(entry.key), tags, received, channel)
    else:
        events += _reading_events(obj, tags, channel)
    return events


def _reading_events(
    obj: dict[str, Any], tags: dict[str, str], channel: str
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for reading in obj[vrl.READINGS]:
        when = _EPOCH + timedelta(milliseconds=reading[vrl.CLOCK])
        for entry in fields.READING_FIELDS:
            if entry.kind is not None:
                events += _event(entry, reading.get(entry.key), tags, when, channel)
    return events
