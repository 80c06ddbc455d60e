"""The contract's checks, written in the subset MicroPython runs: no pytest, no hypothesis.

test_device_micropython.py runs ``run()`` under CPython and under the MicroPython
WebAssembly build, with the same deterministic cases, so the contract behaves the same on
the device's interpreter as on the host's. Prints one line per check and a summary.
"""

import json
import sys

from sensor_protocol import SCHEMA_MINOR, SCHEMA_VERSION
from sensor_protocol.fields import (
    ENVELOPE_FIELDS,
    FAULT_MASK_ALL,
    HEALTH_FIELDS,
    READING_FIELDS,
    READING_KEYS,
    STATUS_ENVELOPE_FIELDS,
    STATUS_FIELDS,
    fault_names,
    field_by_key,
    full_metric_name,
)
from sensor_protocol.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES
from sensor_protocol.payloads import (
    FUTURE_MARGIN_MS,
    IN_FUTURE,
    NO_CLOCK,
    OFFLINE_PAYLOAD,
    TOO_OLD,
    PayloadError,
    decode_health,
    decode_readings,
    decode_status,
    encode_health,
    encode_readings,
    encode_status,
)
from sensor_protocol.payloads import check_time as check_time_rule
from sensor_protocol.topics import CHANNELS, TopicError, build_topic, parse_topic

HEALTH = {
    "uptime_s": 61,
    "mem_free": 90000,
    "rssi": -61,
    "reconnects": 2,
    "radio_restarts": 0,
    "last_error": "OSError: [Errno 113] EHOSTUNREACH",
    "max_loop_s": 0.25,
    "read_s": 0.16,
    "tc_faults": 1,
    "buffer_depth": 3,
    "buffer_capacity": 1000,
    "buffer_drops": 0,
    "clock_valid": False,
}
STATUS = {
    "state": "online",
    "fw": "0.1.0",
    "board": "raspberry_pi_pico_w",
    "reset_reason": "WATCHDOG",
    "safe_mode_reason": None,
    "reset_cause": "offline for 1800 s",
    "sample_period_s": 5.0,
}


class Numbers:
    """A linear congruential generator: the same cases on every interpreter."""

    def __init__(self, seed):
        self.state = seed

    def below(self, limit):
        self.state = (self.state * 1103515245 + 12345) % 2147483648
        return self.state % limit

    def between(self, lo, hi, scale):
        return (round(lo * scale) + self.below(round((hi - lo) * scale) + 1)) / scale


def make_row(numbers, seq):
    """A valid reading row; ``None`` where the field allows it, now and then."""
    clock = None if numbers.below(3) == 0 else 1767225600000 + seq * 5000
    row = [seq, seq * 5000 + numbers.below(1000), clock]
    for field in READING_FIELDS:
        if field.decimals is not None:  # a measured value
            value = numbers.between(field.lo, field.hi, 10**field.decimals)
            row.append(None if numbers.below(5) == 0 else value)
    row.append(numbers.below(FAULT_MASK_ALL + 1))
    return tuple(row)


def widest(field):
    """The value of a reading field whose text on the wire is the longest."""
    if field.decimals is None:
        candidates = (field.lo, field.hi)
    else:
        unit = 10**-field.decimals
        candidates = (
            round(field.lo + unit, field.decimals),
            round(field.hi - unit, field.decimals),
        )
    return max(candidates, key=lambda value: len(repr(value)))


def widest_row():
    """The reading whose text on the wire is the longest."""
    return tuple(widest(field) for field in READING_FIELDS)


def expect_error(decode, obj, field):
    try:
        decode(json.dumps(obj))
    except PayloadError as error:
        assert error.field == field, f"{error} named {error.field!r}, expected {field!r}"
        assert str(error).startswith(field + ": "), str(error)
        return
    raise AssertionError(f"{decode.__name__} accepted a bad {field}")


def bad_values(field):
    values = [] if field.nullable else [None]
    if field.type == "str":
        return values + [5, "x" * (field.hi + 1)]
    if field.type == "bool":
        return values + [1, "true"]
    return values + ["1", True, field.lo - 1, field.hi + 1]


def check_readings_round_trip():
    numbers = Numbers(1)
    for trial in range(20):
        rows = [make_row(numbers, trial * 100 + i) for i in range(1 + numbers.below(30))]
        payload, count = encode_readings(trial, 10**7 + trial, rows)
        assert len(payload.encode("utf-8")) <= MAX_PAYLOAD_BYTES
        assert count == min(len(rows), MAX_BATCH_READINGS), count
        decoded = decode_readings(payload)
        assert decoded["v"] == SCHEMA_VERSION and decoded["boot"] == trial
        got = [tuple(reading[key] for key in READING_KEYS) for reading in decoded["readings"]]
        assert got == rows[:count], (got, rows[:count])


def check_widest_batch_fits():
    rows = [widest_row()] * (MAX_BATCH_READINGS + 5)
    payload, count = encode_readings(2147483647, 2**53, rows)
    assert count == MAX_BATCH_READINGS, count
    assert len(payload.encode("utf-8")) <= MAX_PAYLOAD_BYTES, len(payload)
    assert len(decode_readings(payload)["readings"]) == MAX_BATCH_READINGS


def check_health_round_trip():
    decoded = decode_health(encode_health(4, 61000, HEALTH))
    expected = dict(HEALTH)
    expected.update({"v": SCHEMA_VERSION, "minor": SCHEMA_MINOR, "boot": 4, "sent_up_ms": 61000})
    assert decoded == expected, decoded


def check_status_round_trip():
    decoded = decode_status(encode_status(4, STATUS))
    expected = dict(STATUS)
    expected.update({"v": SCHEMA_VERSION, "minor": SCHEMA_MINOR, "boot": 4})
    assert decoded == expected, decoded
    assert decode_status(OFFLINE_PAYLOAD) == {"v": SCHEMA_VERSION, "state": "offline"}


def check_reading_errors_name_their_field():
    payload, _ = encode_readings(1, 10**7, [make_row(Numbers(2), 0)])
    for field in READING_FIELDS:
        for value in bad_values(field):
            obj = json.loads(payload)
            obj["readings"][0][field.key] = value
            expect_error(decode_readings, obj, "readings[0]." + field.key)
        obj = json.loads(payload)
        del obj["readings"][0][field.key]
        if field.since:
            # Added by a later minor: a reading of an older one lacks it and is whole.
            assert decode_readings(json.dumps(obj))["readings"] == obj["readings"], field.key
        else:
            expect_error(decode_readings, obj, "readings[0]." + field.key)


def check_health_and_status_errors_name_their_field():
    for decode, payload, fields in (
        (decode_health, encode_health(1, 1, HEALTH), HEALTH_FIELDS + ENVELOPE_FIELDS[1:]),
        (decode_status, encode_status(1, STATUS), STATUS_FIELDS[1:] + STATUS_ENVELOPE_FIELDS[1:]),
    ):
        for field in fields:
            for value in bad_values(field):
                obj = json.loads(payload)
                obj[field.key] = value
                expect_error(decode, obj, field.key)
            obj = json.loads(payload)
            del obj[field.key]
            if field.since:
                # Added by a later minor: a payload of an older one lacks it and is whole.
                assert decode(json.dumps(obj)) == obj, field.key
            else:
                expect_error(decode, obj, field.key)


def check_whole_payload_errors():
    for decode in (decode_readings, decode_health, decode_status):
        for text in (b"", b"{", b"[]", b"\xff\xfe{}", b"42", b"x" * (MAX_PAYLOAD_BYTES + 1)):
            try:
                decode(text)
            except PayloadError as error:
                assert error.field == "payload", (text, error.field)
            else:
                raise AssertionError(f"decoded {text!r}")
        expect_error(decode, {"v": SCHEMA_VERSION + 1}, "v")


def check_time():
    reading = {"up_ms": 1000, "t": 1799999992000}
    check_time_rule(reading, 9000, 1800000000000, 0, "readings[0].")
    for clock, received, problem in (
        (None, 1800000000000, NO_CLOCK),
        (1799999992000, 1800000000000 - FUTURE_MARGIN_MS - 1, IN_FUTURE),
        (1799999992000, 1800000000001, TOO_OLD),
    ):
        try:
            check_time_rule({"up_ms": 1000, "t": clock}, 9000, received, 0, "readings[0].")
        except PayloadError as error:
            assert (error.field, error.problem) == ("readings[0].t", problem)
        else:
            raise AssertionError("accepted " + repr(clock))


def check_topics():
    for channel in CHANNELS:
        topic = build_topic("furnace", "studio-1", "kiln_2", channel)
        assert parse_topic(topic) == ("furnace", "studio-1", "kiln_2", channel)
    for parts, named in (
        (("Furnace", "s", "d", "health"), "root"),
        (("furnace", "s+", "d", "health"), "studio"),
        (("furnace", "s", "d#", "health"), "device"),
        (("furnace", "s", "d", "readings"), "channel"),
    ):
        try:
            build_topic(*parts)
        except TopicError as error:
            assert str(error).startswith(named + " "), str(error)
        else:
            raise AssertionError(f"built {parts!r}")
    for topic in ("furnace/s/d", "furnace/s/d/health/x"):
        try:
            parse_topic(topic)
        except TopicError:
            pass
        else:
            raise AssertionError(f"parsed {topic!r}")


def check_field_table():
    assert full_metric_name(field_by_key("temp_c")) == "furnace_furnace_temp"
    assert fault_names(0x141) == ("open_tc", "tc_range", "timeout")


CHECKS = (
    check_readings_round_trip,
    check_widest_batch_fits,
    check_health_round_trip,
    check_status_round_trip,
    check_reading_errors_name_their_field,
    check_health_and_status_errors_name_their_field,
    check_whole_payload_errors,
    check_time,
    check_topics,
    check_field_table,
)


def run():
    """Run every check; print a line each and a summary. Returns the number that failed."""
    print("implementation", sys.implementation.name)
    failed = 0
    for check in CHECKS:
        try:
            check()
        except Exception as error:
            failed += 1
            print("FAIL", check.__name__, repr(error))
        else:
            print("ok", check.__name__)
    print(f"contract checks: {len(CHECKS) - failed} passed, {failed} failed")
    return failed
