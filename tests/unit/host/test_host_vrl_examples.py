"""The decode program on the contract's examples: exactly the expected metrics, or one dead letter
with the expected reason. Runs the rendered VRL with vrl-python."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sensor_bridge.render import examples as contract
from sensor_bridge.render.vector import MAX_DEAD_LETTER_BYTES
from sensor_bridge.render.vrl import (
    DEAD_LETTER_PAYLOAD_CHARS,
    DEAD_LETTER_TOPIC_CHARS,
    DEVICE_LABELS,
    FAULT_TAG,
    READINGS,
    decode_program,
)
from sensor_bridge.site import Site
from sensor_protocol import fields, payloads, topics
from tests.support.decode import dead_letter_reason, decode, example_site

EXAMPLES = contract.examples(example_site())


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_each_example_maps_to_exactly_the_expected_events(example: contract.Example) -> None:
    events = decode(example.topic, example.payload, example.received)
    assert dead_letter_reason(events) == example.reason
    if example.reason is None:
        assert events == list(example.events)


def test_examples_cover_every_channel_and_metric() -> None:
    valid = [e for e in EXAMPLES if e.reason is None]
    assert {e.channel for e in valid} == set(topics.CHANNELS)
    names = {event["name"] for e in valid for event in e.events}
    table = fields.READING_FIELDS + fields.HEALTH_FIELDS
    assert names == {f.metric for f in table if f.metric} | set(fields.CONTRACT_METRICS)


def test_a_clockless_reading_is_a_dead_letter_not_stamped_on_arrival() -> None:
    """A flame out queued an hour in the broker would page as a current one if it were placed
    by when the pipeline read it: the host cannot know when the broker received it."""
    received = datetime(2026, 3, 1, 8, 0, 0, 250_000, tzinfo=UTC)
    values = {"seq": 1, "up_ms": 10_000, "t": None, "temp_c": 1100.5, "cj_c": 30.0}
    row = [values.get(key, 0) for key in fields.READING_KEYS]
    payload, _ = payloads.encode_readings(1, 12_500, [row])
    events = decode(
        contract.topic(example_site(), "furnace-1", topics.TELEMETRY), payload.encode(), received
    )
    assert dead_letter_reason(events) == f"field:{READINGS}[0].t:{payloads.NO_CLOCK}"


def test_a_null_temperature_is_a_gap_not_a_zero() -> None:
    (example,) = [e for e in EXAMPLES if e.name == "telemetry faulted"]
    names = [event["name"] for event in example.events]
    assert "furnace_temp" not in names and "flame_volts" not in names
    faults = {
        e["tags"][FAULT_TAG]: e["gauge"]["value"] for e in example.events if FAULT_TAG in e["tags"]
    }
    assert faults == {name: float(name in ("open_tc", "timeout")) for name, _ in fields.FAULT_BITS}


def test_only_device_online_carries_the_site_labels() -> None:
    for example in EXAMPLES:
        for event in example.events:
            extra = set(event["tags"]) - {"studio", "device", FAULT_TAG}
            if event["name"] == "device_online":
                assert extra == set(DEVICE_LABELS)
            else:
                assert not extra, event


def test_site_text_with_template_and_dollar_signs_stays_text() -> None:
    site = example_site().model_copy(deep=True)
    odd = Site.model_validate(
        {
            **site.model_dump(mode="json"),
            "devices": [
                {
                    "id": "furnace-1",
                    "board": site.devices[0].board,
                    "name": 'Big "{{ x }}" $HOME\\',
                    "location": "a\tb\nc",
                }
            ],
        }
    )
    (online,) = [e for e in contract.examples(odd) if e.name == "status online"]
    event, _unexpected_reset = decode(online.topic, online.payload, online.received, odd)
    assert event["tags"]["device_name"] == 'Big "{{ x }}" $HOME\\'
    assert event["tags"]["location"] == "a\tb\nc"
    assert "$HOME" in decode_program(odd)


def test_a_dead_letter_stays_under_its_size_bound() -> None:
    """The worst case: control characters (6 bytes each in JSON) in the topic and the payload."""
    site = example_site()
    topic = contract.topic(site, "furnace-1", "\x01" * (DEAD_LETTER_TOPIC_CHARS * 2))
    (letter,) = decode(topic, b"\x01" * 4000, contract.RECEIVED)
    assert letter["reason"] == "bad_topic"
    assert len(letter["topic"]) == DEAD_LETTER_TOPIC_CHARS
    assert len(letter["payload"]) == DEAD_LETTER_PAYLOAD_CHARS
    line = json.dumps({**letter, "timestamp": "2026-01-15T12:00:00.000000000Z"})
    assert len(line.encode()) <= MAX_DEAD_LETTER_BYTES


def test_the_readings_key_is_the_encoders() -> None:
    text, _ = payloads.encode_readings(0, 0, [[0] * len(fields.READING_KEYS)])
    assert READINGS in json.loads(text)


@pytest.mark.parametrize(
    ("reset_reason", "safe_mode_reason", "reset_cause", "expected"),
    [
        ("POWER_ON", None, None, 0.0),
        ("SOFTWARE", None, None, 0.0),
        ("WATCHDOG", None, None, 1.0),
        ("BROWNOUT", None, None, 1.0),
        ("POWER_ON", "BROWNOUT", None, 1.0),
        ("SOFTWARE", None, "offline 1800 s", 1.0),
    ],
)
def test_a_birth_says_whether_the_boot_was_unexpected(
    reset_reason: str, safe_mode_reason: str | None, reset_cause: str | None, expected: float
) -> None:
    site = example_site()
    status = {
        "state": "online",
        "fw": "0.1.0",
        "board": site.devices[0].board,
        "reset_reason": reset_reason,
        "safe_mode_reason": safe_mode_reason,
        "reset_cause": reset_cause,
        "sample_period_s": 5.0,
    }
    payload = payloads.encode_status(1, status).encode()
    events = decode(
        contract.topic(site, site.devices[0].id, "status"), payload, contract.RECEIVED, site
    )
    (flag,) = [e for e in events if e["name"] == fields.CONTRACT_METRICS[1]]
    assert flag["gauge"] == {"value": expected}
