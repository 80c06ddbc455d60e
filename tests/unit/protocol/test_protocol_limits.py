"""Limits: every payload a device can make stays under MAX_PAYLOAD_BYTES, well under Vector's
10 KiB packet limit, and a full backfill batch of the largest readings fits."""

import json

from hypothesis import given
from hypothesis import strategies as st

from sensor_protocol import limits
from sensor_protocol.fields import ENVELOPE_FIELDS, HEALTH_FIELDS, STATUS_FIELDS
from sensor_protocol.payloads import (
    PayloadError,
    decode_health,
    decode_readings,
    decode_status,
    encode_health,
    encode_readings,
    encode_status,
)
from tests.unit.device.contract_checks import widest_row
from tests.unit.protocol.strategies import boots, reading_rows, uptimes_ms

VECTOR_MQTT_PACKET_LIMIT = 10 * 1024

WIDEST_ROW = widest_row()
WIDEST_BOOT = ENVELOPE_FIELDS[1].hi
WIDEST_UPTIME = ENVELOPE_FIELDS[2].hi


def test_limits_leave_room_under_the_pipelines_packet_limit():
    assert limits.MAX_PAYLOAD_BYTES < limits.PIPELINE_MAX_PACKET_BYTES < VECTOR_MQTT_PACKET_LIMIT
    assert limits.MAX_PAYLOAD_BYTES * 2 <= limits.PIPELINE_MAX_PACKET_BYTES


def test_a_full_batch_of_the_widest_readings_fits_one_payload():
    rows = [WIDEST_ROW] * (limits.MAX_BATCH_READINGS + 10)

    payload, count = encode_readings(WIDEST_BOOT, WIDEST_UPTIME, rows)

    assert count == limits.MAX_BATCH_READINGS
    assert len(payload.encode()) <= limits.MAX_PAYLOAD_BYTES
    assert len(decode_readings(payload)["readings"]) == limits.MAX_BATCH_READINGS


@given(
    boot=boots,
    sent=uptimes_ms,
    rows=st.lists(reading_rows, min_size=1, max_size=limits.MAX_BATCH_READINGS * 3),
)
def test_any_batch_is_capped_and_fits(boot, sent, rows):
    payload, count = encode_readings(boot, sent, rows)

    assert 1 <= count <= min(len(rows), limits.MAX_BATCH_READINGS)
    assert len(payload.encode()) <= limits.MAX_PAYLOAD_BYTES
    assert count == min(len(rows), limits.MAX_BATCH_READINGS), "readings always fit the batch"


def test_an_empty_batch_encodes_nothing():
    assert encode_readings(1, 1, [])[1] == 0


def test_a_batch_over_the_reading_limit_is_refused():
    payload, _ = encode_readings(1, 1, [WIDEST_ROW])
    obj = json.loads(payload)
    obj["readings"] = obj["readings"] * (limits.MAX_BATCH_READINGS + 1)

    try:
        decode_readings(json.dumps(obj))
    except PayloadError as error:
        assert error.field in ("payload", "readings")
    else:
        raise AssertionError("a batch over MAX_BATCH_READINGS decoded")


def _widest(field):
    if field.type == "str":
        # JSON escapes a non-ASCII character as \\uXXXX: six bytes each.
        return "\u00e9" * field.hi
    if field.type == "bool":
        return False
    return field.lo if len(repr(field.lo)) > len(repr(field.hi)) else field.hi


def test_the_widest_health_payload_fits():
    body = {field.key: _widest(field) for field in HEALTH_FIELDS}

    payload = encode_health(WIDEST_BOOT, WIDEST_UPTIME, body)

    assert len(payload.encode()) <= limits.MAX_PAYLOAD_BYTES
    decode_health(payload)


def test_the_widest_status_payload_fits():
    body = {field.key: _widest(field) for field in STATUS_FIELDS}
    body["state"] = "offline"

    payload = encode_status(WIDEST_BOOT, body)

    assert len(payload.encode()) <= limits.MAX_PAYLOAD_BYTES
    decode_status(payload)


def test_the_size_limit_counts_bytes_not_characters():
    payload = '{"v": 1, "state": "offline", "fw": "' + "\u00e9" * 3000 + '"}'

    try:
        decode_status(payload)
    except PayloadError as error:
        assert error.field == "payload"
    else:
        raise AssertionError("an oversized payload decoded")


def test_ids_and_text_limits_match_the_field_table():
    assert limits.MAX_ID_LENGTH == 32
    assert max(f.hi for f in HEALTH_FIELDS + STATUS_FIELDS if f.type == "str") == (
        limits.MAX_TEXT_LENGTH
    )
