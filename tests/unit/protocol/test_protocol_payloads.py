"""Payloads: encode/decode round trips, and every validation error naming its field."""

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensor_protocol import SCHEMA_MINOR, SCHEMA_VERSION, payloads
from sensor_protocol.fields import (
    ENVELOPE_FIELDS,
    HEALTH_FIELDS,
    READING_FIELDS,
    READING_KEYS,
    STATUS_FIELDS,
    Field,
)
from sensor_protocol.payloads import (
    OFFLINE_PAYLOAD,
    PayloadError,
    check_time,
    decode_health,
    decode_readings,
    decode_status,
    encode_health,
    encode_readings,
    encode_status,
)
from tests.unit.protocol.strategies import (
    boots,
    health_bodies,
    reading_rows,
    row,
    status_bodies,
    uptimes_ms,
    value_of,
)

ROW = row(seq=7, up_ms=61_000, t=1_767_225_600_000, temp_c=1093.25, cj_c=24.5, flame_v=3.412)
HEALTH = {
    "uptime_s": 61,
    "mem_free": 90_000,
    "rssi": -61,
    "reconnects": 0,
    "radio_restarts": 0,
    "last_error": None,
    "max_loop_s": 0.25,
    "read_s": 0.16,
    "tc_faults": 0,
    "buffer_depth": 0,
    "buffer_capacity": 1000,
    "buffer_drops": 0,
    "clock_valid": True,
}
STATUS = {
    "state": "online",
    "fw": "0.1.0",
    "board": "raspberry_pi_pico_w",
    "reset_reason": "POWER_ON",
    "safe_mode_reason": None,
    "reset_cause": None,
    "sample_period_s": 5.0,
}


def telemetry(row: Any = ROW) -> dict[str, Any]:
    payload, count = encode_readings(3, 62_000, [row])
    assert count == 1
    return json.loads(payload)


def as_row(reading: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(reading[key] for key in READING_KEYS)


# Round trips


@given(boot=boots, sent=uptimes_ms, rows=st.lists(reading_rows, min_size=1, max_size=40))
def test_readings_round_trip_oldest_first(boot, sent, rows):
    # A payload is sent after every reading in it was taken.
    sent = max(sent, *(row[1] for row in rows))
    payload, count = encode_readings(boot, sent, rows)
    decoded = decode_readings(payload)

    assert decoded["v"] == SCHEMA_VERSION
    assert decoded["boot"] == boot
    assert decoded["sent_up_ms"] == sent
    assert [as_row(reading) for reading in decoded["readings"]] == list(rows[:count])


def test_telemetry_is_one_reading_with_the_envelope():
    decoded = decode_readings(encode_readings(3, 62_000, [ROW])[0])

    assert decoded == {
        "v": SCHEMA_VERSION,
        "minor": SCHEMA_MINOR,
        "boot": 3,
        "sent_up_ms": 62_000,
        "readings": [dict(zip(READING_KEYS, ROW, strict=True))],
    }


def test_a_faulted_reading_carries_null_temperature():
    decoded = decode_readings(
        encode_readings(1, 10, [row(up_ms=5, t=None, temp_c=None, faults=0x101)])[0]
    )

    reading = decoded["readings"][0]
    assert reading["temp_c"] is None
    assert reading["t"] is None
    assert reading["faults"] == 0x101


@given(boot=boots, sent=uptimes_ms, body=health_bodies)
def test_health_round_trips(boot, sent, body):
    decoded = decode_health(encode_health(boot, sent, body))

    assert decoded == {
        "v": SCHEMA_VERSION,
        "minor": SCHEMA_MINOR,
        "boot": boot,
        "sent_up_ms": sent,
        **body,
    }


@given(boot=boots, body=status_bodies)
def test_birth_status_round_trips(boot, body):
    decoded = decode_status(encode_status(boot, body))

    assert decoded == {"v": SCHEMA_VERSION, "minor": SCHEMA_MINOR, "boot": boot, **body}


def test_the_last_will_decodes_as_offline():
    assert decode_status(OFFLINE_PAYLOAD) == {"v": SCHEMA_VERSION, "state": "offline"}
    assert decode_status(OFFLINE_PAYLOAD.encode()) == {"v": SCHEMA_VERSION, "state": "offline"}


def test_bytes_and_str_decode_alike():
    payload = encode_readings(3, 62_000, [ROW])[0]

    assert decode_readings(payload.encode()) == decode_readings(payload)


# Time rule: the device's clock at sending, against the host's receipt


@given(
    up=uptimes_ms,
    held=st.integers(0, 10**9),
    received=st.integers(10**12, 4 * 10**12),
    late=st.integers(-(10**8), 10**8),
    max_delay=st.integers(0, 10**8),
)
def test_a_reading_is_held_to_its_receipt_however_long_the_device_held_it(
    up, held, received, late, max_delay
):
    """Sent ``late`` ms after its receipt (negative: before), by its own clock."""
    reading = {"up_ms": up, "t": received + late - held}
    problem = None
    if late > payloads.FUTURE_MARGIN_MS:
        problem = payloads.IN_FUTURE
    elif late < -max_delay:
        problem = payloads.TOO_OLD
    try:
        check_time(reading, up + held, received, max_delay, "readings[0].")
    except PayloadError as error:
        assert (error.field, error.problem) == ("readings[0].t", problem)
    else:
        assert problem is None


def test_a_reading_without_a_clock_cannot_be_placed():
    clockless = row(seq=7, up_ms=61_000, t=None, temp_c=1093.25, cj_c=24.5, flame_v=3.412)
    payload = encode_readings(3, 62_000, [clockless])[0]

    assert decode_readings(payload)["readings"][0]["t"] is None
    with pytest.raises(PayloadError) as raised:
        decode_readings(payload, 1_767_225_600_000, 3_600_000)
    assert (raised.value.field, raised.value.problem) == ("readings[0].t", payloads.NO_CLOCK)


# Every validation error names its field


def _bad_values(field: Field) -> list[tuple[str, Any]]:
    """(what is wrong, a value) pairs the contract refuses for ``field``."""
    bad: list[tuple[str, Any]] = []
    if not field.nullable:
        bad.append(("null", None))
    if field.type == "str":
        bad.append(("wrong type", 5))
        if field.lo > 0:
            bad.append(("too short", "x" * (field.lo - 1)))
        bad.append(("too long", "x" * (field.hi + 1)))
    elif field.type == "bool":
        bad.extend([("wrong type", 1), ("wrong type", "true")])
    else:
        bad.extend([("wrong type", "1"), ("wrong type", True), ("below range", field.lo - 1)])
        bad.append(("above range", field.hi + 1))
        if field.type == "int":
            bad.append(("wrong type", 1.5))
    return bad


def _cases(fields: tuple[Field, ...]) -> list[Any]:
    return [
        pytest.param(field, value, id=f"{field.key}-{what}")
        for field in fields
        for what, value in _bad_values(field)
    ]


def _expect_field(decode: Any, obj: Any, field: str) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        decode(json.dumps(obj))
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ": ")
    return caught.value


@pytest.mark.parametrize(("field", "value"), _cases(READING_FIELDS))
def test_a_bad_reading_value_names_its_field(field, value):
    obj = telemetry()
    obj["readings"][0][field.key] = value

    _expect_field(decode_readings, obj, f"readings[0].{field.key}")


@pytest.mark.parametrize(
    "field", [f for f in READING_FIELDS if not f.since], ids=lambda field: field.key
)
def test_a_missing_reading_value_names_its_field(field):
    payload, _ = encode_readings(3, 62_000, [ROW, ROW])
    obj = json.loads(payload)
    del obj["readings"][1][field.key]

    error = _expect_field(decode_readings, obj, f"readings[1].{field.key}")
    assert "missing" in str(error)


@pytest.mark.parametrize(("field", "value"), _cases(ENVELOPE_FIELDS[1:]))
def test_a_bad_envelope_value_names_its_field(field, value):
    obj = telemetry()
    obj[field.key] = value

    _expect_field(decode_readings, obj, field.key)


@pytest.mark.parametrize(("field", "value"), _cases(HEALTH_FIELDS + ENVELOPE_FIELDS[1:]))
def test_a_bad_health_value_names_its_field(field, value):
    obj = json.loads(encode_health(3, 62_000, HEALTH))
    obj[field.key] = value

    _expect_field(decode_health, obj, field.key)


@pytest.mark.parametrize(
    ("field", "value"), _cases(tuple(f for f in STATUS_FIELDS if f.key != "state"))
)
def test_a_bad_status_value_names_its_field(field, value):
    obj = json.loads(encode_status(3, STATUS))
    obj[field.key] = value

    _expect_field(decode_status, obj, field.key)


@pytest.mark.parametrize(
    ("decode", "payload", "key"),
    [
        (decode_health, encode_health(3, 1, HEALTH), "buffer_drops"),
        (decode_health, encode_health(3, 1, HEALTH), "boot"),
        (decode_status, encode_status(3, STATUS), "fw"),
        (decode_status, encode_status(3, STATUS), "boot"),
        (decode_readings, encode_readings(3, 1, [ROW])[0], "sent_up_ms"),
        (decode_readings, encode_readings(3, 1, [ROW])[0], "readings"),
    ],
)
def test_a_missing_key_is_named(decode, payload, key):
    obj = json.loads(payload)
    del obj[key]

    error = _expect_field(decode, obj, key)
    assert "missing" in str(error)


@pytest.mark.parametrize(
    ("decode", "payload"),
    [
        (decode_readings, encode_readings(3, 1, [ROW])[0]),
        (decode_health, encode_health(3, 1, HEALTH)),
        (decode_status, encode_status(3, STATUS)),
    ],
)
def test_an_unknown_key_is_named(decode, payload):
    obj = json.loads(payload)
    obj["temperature"] = 1.0

    _expect_field(decode, obj, "temperature")


def test_an_unknown_key_in_a_reading_is_named():
    obj = telemetry()
    obj["readings"][0]["extra"] = 1

    _expect_field(decode_readings, obj, "readings[0].extra")


# Versions: every minor of the major decodes (sensor_protocol's versioning rule)


@pytest.mark.parametrize(
    ("decode", "payload"),
    [
        (decode_readings, encode_readings(3, 62_000, [ROW])[0]),
        (decode_health, encode_health(3, 62_000, HEALTH)),
        (decode_status, encode_status(3, STATUS)),
    ],
)
def test_a_payload_of_an_older_minor_decodes_with_nothing_lost(decode, payload):
    obj = json.loads(payload)
    del obj["minor"]

    assert decode(json.dumps(obj)) == obj


@pytest.mark.parametrize(
    ("decode", "payload"),
    [
        (decode_readings, encode_readings(3, 62_000, [ROW])[0]),
        (decode_health, encode_health(3, 62_000, HEALTH)),
        (decode_status, encode_status(3, STATUS)),
    ],
)
def test_a_newer_minor_loses_only_the_fields_this_host_does_not_know(decode, payload):
    known = json.loads(payload)
    newer = dict(known, minor=SCHEMA_MINOR + 1, humidity_pct=40.5)

    assert decode(json.dumps(newer)) == dict(known, minor=SCHEMA_MINOR + 1)
    _expect_field(decode, dict(known, humidity_pct=40.5), "humidity_pct")


def test_a_newer_minors_readings_lose_only_their_new_fields():
    obj = telemetry()
    obj["minor"] = SCHEMA_MINOR + 1
    obj["readings"][0]["humidity_pct"] = 40.5

    assert decode_readings(json.dumps(obj))["readings"] == telemetry()["readings"]


def test_a_newer_minor_still_gets_every_known_field_checked():
    obj = telemetry()
    obj["minor"] = SCHEMA_MINOR + 1
    obj["readings"][0]["temp_c"] = 5000.0

    _expect_field(decode_readings, obj, "readings[0].temp_c")


@pytest.mark.parametrize("minor", ["2", 1.5, True, None, -1, 256])
def test_a_bad_minor_is_named_and_grants_nothing(minor):
    obj = telemetry()
    obj["minor"] = minor
    obj["readings"][0]["extra"] = 1

    _expect_field(decode_readings, obj, "minor")


NEW_VALUE = Field(
    "temp2_c", "float", "celsius", -270.0, 1800.0, 2, True, SCHEMA_MINOR + 1, "temp2", "gauge", "."
)


def test_a_field_a_later_minor_adds_is_optional(monkeypatch):
    table = (*READING_FIELDS[:-1], NEW_VALUE, READING_FIELDS[-1])
    monkeypatch.setattr(payloads, "READING_FIELDS", table)
    obj = telemetry()

    assert decode_readings(json.dumps(obj)) == obj
    obj["readings"][0]["temp2_c"] = 1200.5
    assert decode_readings(json.dumps(obj)) == obj
    obj["readings"][0]["temp2_c"] = 2000.0
    _expect_field(decode_readings, obj, "readings[0].temp2_c")


@pytest.mark.parametrize("version", [0, SCHEMA_VERSION + 1, "1", True, None, 1.5, 1.0])
@pytest.mark.parametrize("decode", [decode_readings, decode_health, decode_status])
def test_another_schema_version_is_refused_on_v(decode, version):
    obj = {"v": version}

    error = _expect_field(decode, obj, "v")
    assert "schema version" in str(error)


@pytest.mark.parametrize("decode", [decode_readings, decode_health, decode_status])
def test_a_missing_version_is_named(decode):
    _expect_field(decode, {"state": "offline"}, "v")


@pytest.mark.parametrize(
    "text",
    [b"", b"{", b"[]", b"null", b"42", b'"text"', b"\xff\xfe{}", b"{'v': 1}"],
    ids=["empty", "truncated", "list", "null", "number", "string", "not-utf8", "python-repr"],
)
@pytest.mark.parametrize("decode", [decode_readings, decode_health, decode_status])
def test_what_is_not_a_json_object_is_a_payload_error(decode, text):
    with pytest.raises(PayloadError) as caught:
        decode(text)

    assert caught.value.field == "payload"


@pytest.mark.parametrize(
    ("readings", "problem"),
    [({}, "must be a list"), ([], "1..24"), ([1], "readings[0]"), ("x", "must be a list")],
)
def test_a_bad_readings_list_is_named(readings, problem):
    obj = telemetry()
    obj["readings"] = readings

    with pytest.raises(PayloadError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        decode_readings(json.dumps(obj))


def test_a_reading_with_nan_is_refused():
    obj = telemetry()
    obj["readings"][0]["flame_v"] = math.nan

    error = _expect_field(decode_readings, obj, "readings[0].flame_v")
    assert "NaN" in str(error)


def test_a_status_state_other_than_online_or_offline_is_named():
    obj = json.loads(encode_status(3, STATUS))
    obj["state"] = "onlinx"

    _expect_field(decode_status, obj, "state")


def test_an_offline_status_with_extra_keys_is_checked_as_a_birth():
    _expect_field(decode_status, {"v": SCHEMA_VERSION, "state": "offline", "boot": 1}, "fw")


def test_payload_error_is_a_value_error_with_the_field():
    error = PayloadError("readings[0].temp_c", "is missing")

    assert isinstance(error, ValueError)
    assert error.field == "readings[0].temp_c"
    assert str(error) == "readings[0].temp_c: is missing"


# Decoding never fails any other way


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=8,
    )


@given(key=st.sampled_from(READING_KEYS), value=_json_values())
def test_any_reading_value_decodes_or_raises_payload_error(key, value):
    obj = telemetry()
    obj["readings"][0][key] = value

    try:
        decoded = decode_readings(json.dumps(obj))
    except PayloadError:
        return
    field = next(field for field in READING_FIELDS if field.key == key)
    accepted = decoded["readings"][0][key]
    assert (accepted is None and field.nullable) or field.lo <= accepted <= field.hi


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_decode_or_raise_payload_error(data):
    for decode in (decode_readings, decode_health, decode_status):
        try:
            decode(data)
        except PayloadError:
            pass


@given(field=st.sampled_from(HEALTH_FIELDS), data=st.data())
def test_every_valid_health_value_is_accepted(field, data):
    body = dict(HEALTH)
    body[field.key] = data.draw(value_of(field))

    assert decode_health(encode_health(1, 1, body))[field.key] == body[field.key]


def test_a_reading_taken_after_its_payload_was_sent_is_refused():
    obj = telemetry()
    obj["readings"][0]["up_ms"] = obj["sent_up_ms"] + 1

    error = _expect_field(decode_readings, obj, "readings[0].up_ms")
    assert "later than sent_up_ms" in str(error)


@pytest.mark.parametrize("decode", [decode_readings, decode_health, decode_status])
def test_deeply_nested_json_is_a_payload_error(decode):
    with pytest.raises(PayloadError) as caught:
        decode("[" * 2000 + "]" * 2000)
    assert caught.value.field == "payload"
