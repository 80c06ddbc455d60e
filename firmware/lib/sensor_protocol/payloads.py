"""
`sensor_protocol.payloads`
================================================================================
Every payload is one JSON object carrying ``"v"`` and ``"minor"``, the contract's version
(``sensor_protocol`` says which versions a host decodes).

* ``telemetry`` and ``backfill``: the envelope (``ENVELOPE_FIELDS``: ``v``, ``minor``,
  ``boot``, ``sent_up_ms``) and ``"readings": [reading, ...]``, where a reading is an object
  with the keys of ``READING_FIELDS``. Telemetry carries one reading, a backfill batch up to
  ``MAX_BATCH_READINGS``.
* ``health``: the envelope plus the keys of ``HEALTH_FIELDS``.
* ``status`` (retained): ``{"v", "boot", "minor", "state": "online", ...STATUS_FIELDS}`` as
  the birth message, ``OFFLINE_PAYLOAD`` (``v`` and ``state`` only) as the last will.

A reading's ``t`` is when it was taken, by the device's clock. The host holds it to the time it
received the message (``check_time``): the device's clock when it sent the payload,
``t + (sent_up_ms - up_ms)``, must lie between ``received - max_delay_ms`` (how long the broker
may have queued it) and ``received + FUTURE_MARGIN_MS``. A reading without a clock
(``"t": null``, which firmware of 1.0 and 1.1 sent until its first NTP sync) cannot be placed: when
the broker received it is not known to the host, only when the pipeline read it.

The decoders validate every payload against the field table; they run on the host only.
A field a later minor added may be absent. A payload of a newer minor than the host's comes
back without the keys the host does not know. The encoders are ``sensor_protocol.wire``'s,
re-exported here.
"""

import json

from sensor_protocol import SCHEMA_MINOR, SCHEMA_VERSION
from sensor_protocol.fields import (
    ENVELOPE_FIELDS,
    HEALTH_FIELDS,
    READING_FIELDS,
    STATUS_ENVELOPE_FIELDS,
    STATUS_FIELDS,
    STATUS_STATES,
)
from sensor_protocol.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES

# Re-exported: the host reads the device's encoders here, next to the decoders.
from sensor_protocol.wire import (  # noqa: F401
    OFFLINE_PAYLOAD,
    READINGS,
    encode_health,
    encode_reading,
    encode_readings,
    encode_status,
)

try:
    from typing import Any, Dict, Optional, Sequence, Tuple, Union
except ImportError:
    pass


FUTURE_MARGIN_MS = 60000
"""How much later than its receipt a reading may claim to have been sent. The boards set their
clock by SNTP from the Pi's own chrony, on the same LAN as the broker: within milliseconds at
each sync, then drifting at most a crystal's 50 ppm (4.3 s a day) until the next one. A minute
is far above that and the publish latency, and far below anything an alert window sees."""

# A reading's problems beyond the payload schema: the last part of its dead-letter reason
# (``field:readings[0].t:in_future``), the host rules of ``decode_readings``.
AFTER_SENT = "after_sent"
"""``up_ms`` is later than ``sent_up_ms``."""
NO_CLOCK = "no_clock"
"""``t`` is null."""
IN_FUTURE = "in_future"
"""Sent later than ``FUTURE_MARGIN_MS`` after its receipt."""
TOO_OLD = "too_old"
"""Sent longer than the host's ``max_delay_ms`` before its receipt."""
HOST_PROBLEMS = (AFTER_SENT, NO_CLOCK, IN_FUTURE, TOO_OLD)


class PayloadError(ValueError):
    """A payload does not follow the contract. ``field`` names the offending field
    (``"payload"`` when the whole payload is wrong); the message says what to fix.
    ``problem`` is one of ``HOST_PROBLEMS`` when a host rule refused it, else None."""

    def __init__(self, field: str, message: str, problem: "Optional[str]" = None) -> None:
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.problem = problem


def _type_ok(kind: str, value: "Any") -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def _check_value(field: "Any", value: "Any", where: str) -> None:
    name = where + field.key
    if value is None:
        if not field.nullable:
            raise PayloadError(name, "must not be null")
        return
    if not _type_ok(field.type, value):
        raise PayloadError(name, "must be %s, got %s" % (field.type, type(value).__name__))
    if field.type == "str":
        size = len(value)
        if size < field.lo or size > field.hi:
            raise PayloadError(name, "length %d is outside %d..%d" % (size, field.lo, field.hi))
    elif field.type != "bool":
        if value != value:
            raise PayloadError(name, "must be a number, got NaN")
        if value < field.lo or value > field.hi:
            raise PayloadError(
                name, "%r is outside the valid range %r..%r" % (value, field.lo, field.hi)
            )


def _check_object(
    obj: "Any", fields: "Sequence[Any]", where: str, extra: "Tuple[str, ...]", newer: bool
):
    if not isinstance(obj, dict):
        raise PayloadError(where.rstrip(".") or "payload", "must be a JSON object")
    known = extra + tuple(field.key for field in fields)
    for key in [key for key in obj if key not in known]:
        if not newer:
            raise PayloadError(where + str(key), "is not a field of this payload")
        # A newer minor's own field: optional by the versioning rule, and nothing this host
        # could check or store.
        del obj[key]
    for field in fields:
        if field.key in obj:
            _check_value(field, obj[field.key], where)
        elif not field.since:
            raise PayloadError(where + field.key, "is missing")


def _newer_minor(obj: "Dict[str, Any]") -> bool:
    """Whether ``obj`` comes from a newer minor version than this host's."""
    minor = obj.get("minor", 0)
    return _type_ok("int", minor) and minor > SCHEMA_MINOR


def _parse(text: "Union[str, bytes]") -> "Dict[str, Any]":
    # The limit is in bytes on the wire: measure a str as its UTF-8 encoding.
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            "payload", "%d bytes is over the %d-byte limit" % (size, MAX_PAYLOAD_BYTES)
        )
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeError:
            raise PayloadError("payload", "is not UTF-8") from None
    try:
        obj = json.loads(text)
    except ValueError:
        raise PayloadError("payload", "is not valid JSON") from None
    except RuntimeError:
        # Deep nesting exhausts the parser's recursion (RecursionError on CPython).
        raise PayloadError("payload", "is nested too deeply") from None
    if not isinstance(obj, dict):
        raise PayloadError("payload", "must be a JSON object")
    if "v" not in obj:
        raise PayloadError("v", "is missing")
    if obj["v"] != SCHEMA_VERSION or not _type_ok("int", obj["v"]):
        raise PayloadError(
            "v", "schema version %r is not supported; expected %d" % (obj["v"], SCHEMA_VERSION)
        )
    return obj


def decode_readings(
    text: "Union[str, bytes]", received_ms: "Optional[int]" = None, max_delay_ms: int = 0
) -> "Dict[str, Any]":
    """Parse and validate a telemetry or backfill payload; with ``received_ms`` (the host's
    receipt, Unix ms) also each reading's time (``check_time``)."""
    obj = _parse(text)
    newer = _newer_minor(obj)
    _check_object(obj, ENVELOPE_FIELDS, "", (READINGS,), newer)
    if READINGS not in obj:
        raise PayloadError(READINGS, "is missing")
    readings = obj[READINGS]
    if not isinstance(readings, list):
        raise PayloadError(READINGS, "must be a list")
    if not readings or len(readings) > MAX_BATCH_READINGS:
        raise PayloadError(
            READINGS, "must hold 1..%d readings, got %d" % (MAX_BATCH_READINGS, len(readings))
        )
    for index, reading in enumerate(readings):
        where = "%s[%d]." % (READINGS, index)
        _check_object(reading, READING_FIELDS, where, (), newer)
        # A reading cannot be taken after the payload carrying it was sent.
        if reading["up_ms"] > obj["sent_up_ms"]:
            raise PayloadError(where + "up_ms", "is later than sent_up_ms", AFTER_SENT)
        if received_ms is not None:
            check_time(reading, obj["sent_up_ms"], received_ms, max_delay_ms, where)
    return obj


def decode_health(text: "Union[str, bytes]") -> "Dict[str, Any]":
    """Parse and validate a health payload."""
    obj = _parse(text)
    _check_object(obj, ENVELOPE_FIELDS + HEALTH_FIELDS, "", (), _newer_minor(obj))
    return obj


def decode_status(text: "Union[str, bytes]") -> "Dict[str, Any]":
    """Parse and validate a status payload: a birth message or the last will."""
    obj = _parse(text)
    if obj.get("state") == "offline" and len(obj) == 2:
        return obj
    _check_object(obj, STATUS_FIELDS + STATUS_ENVELOPE_FIELDS, "", (), _newer_minor(obj))
    if obj["state"] not in STATUS_STATES:
        raise PayloadError("state", "must be one of %s" % ", ".join(STATUS_STATES))
    return obj


def check_time(
    reading: "Dict[str, Any]", sent_up_ms: int, received_ms: int, max_delay_ms: int, where: str
) -> None:
    """Refuse a reading without a clock, or whose device clock at sending,
    ``t + (sent_up_ms - up_ms)``, is more than ``FUTURE_MARGIN_MS`` after ``received_ms`` or
    more than ``max_delay_ms`` before it. Holding a reading on the device does not age it: a
    backfill of an hour offline is sent now, with an hour between its up_ms and sent_up_ms."""
    clock = reading["t"]
    if clock is None:
        raise PayloadError(where + "t", "is null: the device's clock was not set", NO_CLOCK)
    sent = clock + sent_up_ms - reading["up_ms"]
    if sent > received_ms + FUTURE_MARGIN_MS:
        raise PayloadError(
            where + "t", "was sent %d ms after it was received" % (sent - received_ms), IN_FUTURE
        )
    if sent < received_ms - max_delay_ms:
        raise PayloadError(
            where + "t", "was sent %d ms before it was received" % (received_ms - sent), TOO_OLD
        )
