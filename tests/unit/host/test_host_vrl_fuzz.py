"""Property-based fuzzing of the decode program (vrl-python) against the contract's own decoders.

For every message, well-formed or not: the program never fails, its output is either metrics
equal to what the contract says (``expected_events``) or exactly one dead letter with a reason
from the fixed vocabulary, and it dead-letters exactly the messages the contract rejects. For a
single known defect, the reason names it.

VRL's JSON parser (serde_json without ``float_roundtrip``) reads a decimal as its integer digits
turned into a float, divided by 1e308 while the exponent is below -308, then by a power of ten:
up to four roundings, so a 17-digit decimal far from 1 may come out a few units in the last place
off (9.850403145580131e-200 reads two ULP high). The contract's encoder sends at most three
decimals, which it reads exactly. So generated floats are compared to within four ULP.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sensor_bridge.render.examples import RECEIVED, Rejected, epoch_ms, expected_events, topic
from sensor_bridge.render.vrl import MINOR, READINGS, max_delay_ms
from sensor_protocol import SCHEMA_MINOR, SCHEMA_VERSION, fields, payloads, topics
from sensor_protocol.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES
from tests.support.decode import dead_letter_reason, decode, example_site

pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SITE = example_site()
DEVICE = SITE.devices[0].id

# Text VRL can hold: any code point but a lone surrogate (not encodable as UTF-8).
TEXT = st.characters(codec="utf-8")


def agree(where: str, payload: bytes, received: datetime = RECEIVED) -> str | None:
    """Decode one message; it must match the contract. Its dead-letter reason, if any."""
    events = decode(where, payload, received)
    reason = dead_letter_reason(events)
    try:
        expected = expected_events(SITE, where, payload, received)
    except Rejected as rejected:
        assert reason is not None, f"the contract rejects ({rejected.where}): {payload!r}"
        return reason
    assert reason is None, f"{reason} for a valid {payload!r}"
    assert len(events) == len(expected)
    for event, want in zip(events, expected, strict=True):
        value, wanted = (e.get("gauge", e.get("counter", {})).get("value") for e in (event, want))
        assert abs(value - wanted) <= 4 * math.ulp(wanted), (event, want)
        assert {**event, "gauge": None, "counter": None} == {**want, "gauge": None, "counter": None}
    return None


def value_of(entry: Any) -> st.SearchStrategy[Any]:
    """Any valid value of a field of the table."""
    if entry.type == "bool":
        valid: st.SearchStrategy[Any] = st.booleans()
    elif entry.type == "str":
        valid = st.text(TEXT, min_size=entry.lo, max_size=entry.hi)
    elif entry.type == "int":
        valid = st.integers(entry.lo, entry.hi)
    else:
        valid = st.floats(entry.lo, entry.hi) | st.integers(
            math.ceil(entry.lo), math.floor(entry.hi)
        )
    return st.none() | valid if entry.nullable else valid


def wrong_type(entry: Any) -> st.SearchStrategy[Any]:
    others: dict[str, st.SearchStrategy[Any]] = {
        "int": st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x)),
        "float": st.text(max_size=5),
        "bool": st.integers() | st.just("true"),
        "str": st.integers() | st.floats(allow_nan=False, allow_infinity=False),
    }
    return others[entry.type] | st.lists(st.integers(), max_size=2) | st.just({})


def out_of_range(entry: Any) -> st.SearchStrategy[Any]:
    if entry.type == "str":
        return st.text(TEXT, min_size=entry.hi + 1, max_size=entry.hi + 3)
    if entry.type == "float":
        return st.sampled_from([entry.lo - 0.5, entry.hi + 0.5, -1e300, 1e300])
    # Past 64 bits VRL reads a JSON integer as a float: a wrong type, not a range.
    return st.integers(-(2**63), entry.lo - 1) | st.integers(entry.hi + 1, 2**63 - 1)


def fixed(table: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Every field of ``table``; those a later minor added (optional) now and then left out."""
    return st.fixed_dictionaries(
        {entry.key: value_of(entry) for entry in table if not entry.since},
        optional={entry.key: value_of(entry) for entry in table if entry.since},
    )


MAX_DELAY_MS = max_delay_ms(SITE)
RECEIVED_MS = epoch_ms(RECEIVED)


@st.composite
def readings_message(draw: st.DrawFn) -> dict[str, Any]:
    """Readings received at ``RECEIVED``, each sent within the host's margins of it."""
    body = draw(fixed(fields.ENVELOPE_FIELDS))
    body["v"] = SCHEMA_VERSION
    # Readings taken before sending, at most an hour earlier.
    sent = draw(st.integers(3_600_000, fields.UPTIME_MS_MAX))
    body["sent_up_ms"] = sent
    # Mostly short batches (generating 24 readings is slow); now and then a full one.
    size = draw(st.sampled_from([1, 1, 1, 2, 2, 3, 3, MAX_BATCH_READINGS]))
    rows = draw(st.lists(fixed(fields.READING_FIELDS), min_size=size, max_size=size))
    for row in rows:
        row["up_ms"] = draw(st.integers(sent - 3_600_000, sent))
        sent_at = RECEIVED_MS + draw(st.integers(-MAX_DELAY_MS, payloads.FUTURE_MARGIN_MS))
        row["t"] = sent_at - (sent - row["up_ms"])
    body[READINGS] = rows
    return body


def retimed(body: dict[str, Any], received: datetime) -> dict[str, Any]:
    """``body`` as if received at ``received`` rather than ``RECEIVED``."""
    for row in body.get(READINGS, []):
        row["t"] += epoch_ms(received) - RECEIVED_MS
    return body


@st.composite
def health_message(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(fixed(fields.ENVELOPE_FIELDS + fields.HEALTH_FIELDS))
    body["v"] = SCHEMA_VERSION
    return body


@st.composite
def status_message(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(fixed(fields.STATUS_FIELDS + fields.STATUS_ENVELOPE_FIELDS[1:]))
    body.update(v=SCHEMA_VERSION, state=draw(st.sampled_from(fields.STATUS_STATES)))
    return body


MESSAGES = {
    topics.TELEMETRY: readings_message(),
    topics.BACKFILL: readings_message(),
    topics.HEALTH: health_message(),
    topics.STATUS: status_message(),
}
MESSAGE = st.sampled_from(sorted(MESSAGES)).flatmap(lambda c: st.tuples(st.just(c), MESSAGES[c]))


def encoded(body: Any) -> bytes:
    return json.dumps(body).encode()


@settings(FUZZ, max_examples=500)
@given(MESSAGE, st.datetimes(datetime(2024, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)))
@example(
    (
        "backfill",
        {
            "v": 1,
            "boot": 0,
            "sent_up_ms": 3_600_000,
            "readings": [
                {
                    "seq": 0,
                    "up_ms": 0,
                    "t": epoch_ms(RECEIVED) - 3_600_000,
                    "temp_c": None,
                    "cj_c": None,
                    "flame_v": 9.850403145580131e-200,
                    "faults": 0,
                }
            ],
        },
    ),
    datetime(2024, 1, 1, tzinfo=UTC),
)
def test_valid_messages_become_exactly_the_contracts_metrics(
    message: tuple[str, dict[str, Any]], received: datetime
) -> None:
    channel, body = message
    received = received.replace(microsecond=received.microsecond // 1000 * 1000)
    payload = encoded(retimed(body, received))
    if len(payload) <= MAX_PAYLOAD_BYTES:
        assert agree(topic(SITE, DEVICE, channel), payload, received) is None


@settings(FUZZ, max_examples=200)
@given(
    MESSAGE,
    st.dictionaries(
        st.text(TEXT, min_size=1, max_size=8), st.integers() | st.text(TEXT, max_size=5), min_size=1
    ),
)
def test_a_newer_minors_new_fields_are_left_out_and_the_rest_stored(
    message: tuple[str, dict[str, Any]], new: dict[str, Any]
) -> None:
    channel, body = message
    body[MINOR] = SCHEMA_MINOR + 1
    where = topic(SITE, DEVICE, channel)
    known = encoded(body)
    tables = fields.ENVELOPE_FIELDS + fields.READING_FIELDS + fields.HEALTH_FIELDS
    known_keys = {e.key for e in tables + fields.STATUS_FIELDS} | {READINGS}
    new = {key: value for key, value in new.items() if key not in known_keys}
    for part in [body, *body.get(READINGS, [])]:
        part.update(new)
    payload = encoded(body)
    if len(payload) <= MAX_PAYLOAD_BYTES:
        assert agree(where, payload) is None
        assert decode(where, payload, RECEIVED) == decode(where, known, RECEIVED)


def _field_sites(channel: str, body: dict[str, Any]) -> list[tuple[tuple[Any, ...], Any]]:
    """(path to a field, its table entry) for every field in ``body``."""
    if channel == topics.STATUS:
        table = fields.STATUS_FIELDS + fields.STATUS_ENVELOPE_FIELDS[1:]
        return [((e.key,), e) for e in table]
    if channel == topics.HEALTH:
        return [((e.key,), e) for e in fields.ENVELOPE_FIELDS[1:] + fields.HEALTH_FIELDS]
    top = [((e.key,), e) for e in fields.ENVELOPE_FIELDS[1:]]
    rows = range(len(body[READINGS]))
    return top + [((READINGS, i, e.key), e) for i in rows for e in fields.READING_FIELDS]


def _path_text(path: tuple[Any, ...]) -> str:
    if len(path) == 1:
        return str(path[0])
    return f"{path[0]}[{path[1]}].{path[2]}"


@st.composite
def defect(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """A valid message with one known defect in one field: (channel, payload, reason)."""
    channel, body = draw(MESSAGE)
    path, entry = draw(st.sampled_from(_field_sites(channel, body)))
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    problem = draw(
        st.sampled_from(["missing", "wrong_type", "out_of_range", "null", "unknown_key"])
    )
    if problem == "missing" and not entry.since:
        del parent[path[-1]]
    elif problem == "wrong_type":
        parent[path[-1]] = draw(wrong_type(entry))
    elif problem == "out_of_range" and entry.type != "bool":
        parent[path[-1]] = draw(out_of_range(entry))
    elif problem == "null" and not entry.nullable:
        parent[path[-1]] = None
    else:
        problem = "unknown_key"
        # Only a newer minor than the contract's may carry keys the contract does not know.
        body[MINOR] = draw(st.integers(0, SCHEMA_MINOR))
        known = {e.key for e in fields.READING_FIELDS + fields.HEALTH_FIELDS + fields.STATUS_FIELDS}
        extra = draw(
            st.text(TEXT, min_size=1, max_size=8).filter(lambda k: k not in known | {"v", READINGS})
        )
        parent[extra] = draw(st.integers())
        where = _path_text(path).rpartition(".")[0] if len(path) > 1 else "payload"
        return channel, encoded(body), f"field:{where}:unknown_key"
    return channel, encoded(body), f"field:{_path_text(path)}:{problem}"


@FUZZ
@given(defect())
def test_one_defect_is_one_dead_letter_naming_it(case: tuple[str, bytes, str]) -> None:
    channel, payload, reason = case
    if len(payload) > MAX_PAYLOAD_BYTES:
        reason = "too_large"
    assert agree(topic(SITE, DEVICE, channel), payload) == reason


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes, set[str]]:
    """A valid message damaged as bytes: (channel, payload, the reasons it may get)."""
    channel, body = draw(MESSAGE)
    payload = encoded(body)
    damage = draw(st.sampled_from(["truncate", "not_utf8", "oversize", "version", "not_object"]))
    if damage == "truncate":
        return channel, payload[: draw(st.integers(0, len(payload) - 1))], {"not_json", "not_utf8"}
    if damage == "not_utf8":
        cut = draw(st.integers(0, len(payload)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]))
        return channel, payload[:cut] + bad + payload[cut:], {"not_utf8", "too_large"}
    if damage == "oversize":
        return channel, payload[:-1] + b" " * MAX_PAYLOAD_BYTES + b"}", {"too_large"}
    if damage == "version":
        body["v"] = draw(st.sampled_from([0, 2, 255, -1, "1", 1.0, True, None, [1]]))
        return channel, encoded(body), {"bad_version", "too_large"}
    return channel, encoded([body]), {"not_object", "too_large"}


@FUZZ
@given(damaged())
def test_damaged_bytes_are_one_dead_letter(case: tuple[str, bytes, set[str]]) -> None:
    channel, payload, reasons = case
    assert agree(topic(SITE, DEVICE, channel), payload) in reasons


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(TEXT),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(TEXT, max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(st.sampled_from(topics.CHANNELS), JSON)
def test_any_json_never_fails_the_program(channel: str, value: Any) -> None:
    payload = json.dumps(value).encode()
    if isinstance(value, dict):
        value.setdefault("v", SCHEMA_VERSION)
        payload = json.dumps(value).encode()
    agree(topic(SITE, DEVICE, channel), payload)


@FUZZ
@given(
    st.sampled_from([*topics.CHANNELS, "config", ""]), st.binary(max_size=MAX_PAYLOAD_BYTES + 64)
)
def test_any_bytes_never_fail_the_program(channel: str, payload: bytes) -> None:
    agree(topic(SITE, DEVICE, channel), payload)


@FUZZ
@given(st.text(TEXT, max_size=60), st.binary(max_size=64))
def test_any_topic_is_checked_like_the_contract(where: str, payload: bytes) -> None:
    """Only the site's studio and devices, on a contract channel, get past the topic check."""
    reason = dead_letter_reason(decode(where, payload, RECEIVED))
    try:
        expected_events(SITE, where, b"{}", RECEIVED)
    except Rejected as rejected:
        if rejected.where in ("topic", "device"):
            assert reason in ("bad_topic", "unknown_device")
            return
    assert reason not in ("bad_topic", "unknown_device")


@st.composite
def clocks(draw: st.DrawFn) -> tuple[dict[str, Any], datetime, int]:
    """A one-reading telemetry payload, its receipt time and how far after the receipt its
    device clock says it was sent; mostly near the margins' edges."""
    received_ms = draw(st.integers(epoch_ms(datetime(2024, 1, 1, tzinfo=UTC)), 2**42))
    sent = draw(st.integers(0, fields.UPTIME_MS_MAX))
    up_ms = draw(st.integers(max(sent - 10**10, 0), sent))
    edge = st.sampled_from([-MAX_DELAY_MS, payloads.FUTURE_MARGIN_MS])
    near = st.tuples(edge, st.integers(-3, 3)).map(sum)
    offset = draw(near | st.integers(-(10**11), 10**11))
    t = received_ms + offset - (sent - up_ms)
    reading = {e.key: e.lo if e.type != "bool" else True for e in fields.READING_FIELDS}
    body: dict[str, Any] = {"v": SCHEMA_VERSION, "boot": 1, "sent_up_ms": sent}
    body[READINGS] = [{**reading, "up_ms": up_ms, "t": t}]
    received = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=received_ms)
    return body, received, offset


@FUZZ
@given(clocks())
def test_a_reading_is_sent_within_the_margins_of_its_receipt(
    case: tuple[dict[str, Any], datetime, int],
) -> None:
    """The device's clock at sending, t + (sent_up_ms - up_ms), against the receipt: later by
    more than the future margin, or earlier by more than the site's delay, is a dead letter."""
    body, received, offset = case
    t = body[READINGS][0]["t"]
    reason = None
    if not fields.EPOCH_MS_MIN <= t <= fields.EPOCH_MS_MAX:
        reason = f"field:{READINGS}[0].t:out_of_range"
    elif offset > payloads.FUTURE_MARGIN_MS:
        reason = f"field:{READINGS}[0].t:{payloads.IN_FUTURE}"
    elif offset < -MAX_DELAY_MS:
        reason = f"field:{READINGS}[0].t:{payloads.TOO_OLD}"
    assert agree(topic(SITE, DEVICE, topics.TELEMETRY), encoded(body), received) == reason


def test_a_reading_is_never_sent_before_it_is_taken_nor_without_a_clock() -> None:
    """The host's rules beyond the payload schema, at their edges."""
    reading = {e.key: e.lo if e.type != "bool" else True for e in fields.READING_FIELDS}
    base = {"v": SCHEMA_VERSION, "boot": 1, "sent_up_ms": 5_000}
    for up_ms, t, reason in [
        (5_000, RECEIVED_MS, None),
        (5_001, RECEIVED_MS, f"field:{READINGS}[0].up_ms:{payloads.AFTER_SENT}"),
        (5_000, None, f"field:{READINGS}[0].t:{payloads.NO_CLOCK}"),
    ]:
        body = {**base, READINGS: [{**reading, "t": t, "up_ms": up_ms}]}
        assert agree(topic(SITE, DEVICE, topics.TELEMETRY), encoded(body)) == reason
