"""Status LED states and the health report."""

import pytest

from sensor_node.health import Health
from sensor_node.status_led import (
    BLINKS,
    COLOURS,
    CONFIG_ERROR,
    CONNECTING,
    OFFLINE,
    ONLINE,
    SENSOR_FAULT,
    StatusLed,
    choose_state,
)
from sensor_protocol.fields import HEALTH_FIELDS
from sensor_protocol.payloads import decode_health, encode_health
from tests.unit.firmware.fakes import FakeLed, FakePixel


@pytest.mark.parametrize(
    ("config", "fault", "online", "buffered", "state"),
    [
        (True, True, True, True, CONFIG_ERROR),
        (False, True, True, False, SENSOR_FAULT),
        (False, False, True, True, ONLINE),
        (False, False, False, True, OFFLINE),
        (False, False, False, False, CONNECTING),
    ],
)
def test_states_are_ranked(config, fault, online, buffered, state):
    assert choose_state(config, fault, online, buffered) == state


def test_every_state_has_its_own_colour_and_blink():
    assert len(set(COLOURS)) == len(COLOURS) == 5
    assert len(set(BLINKS)) == len(BLINKS) == 5


def test_the_neopixel_is_written_only_on_change():
    pixel = FakePixel()
    led = StatusLed(pixel=pixel)
    for now in range(0, 5000, 100):
        led.show(ONLINE, now)
    led.show(OFFLINE, 5000)

    assert pixel.writes == [COLOURS[ONLINE], COLOURS[OFFLINE]]


def test_a_plain_led_blinks_the_pattern():
    plain = FakeLed()
    led = StatusLed(led=plain)
    for now in range(0, 2000, 50):
        led.show(CONNECTING, now)

    assert plain.values == [True, False, True, False]
    steady = FakeLed()
    led = StatusLed(led=steady)
    for now in range(0, 3000, 50):
        led.show(ONLINE, now)
    assert steady.values == [True]


def test_no_led_at_all_is_fine():
    StatusLed().show(SENSOR_FAULT, 0)


class Link:
    reconnects = 2
    radio_restarts = 1
    last_error = "publish on backfill failed: " + "x" * 200


class Buffer:
    capacity = 1000
    drops = 5

    def __len__(self):
        return 12


def test_the_health_report_follows_the_contract_and_starts_a_new_period():
    health = Health()
    health.loop_took(120)
    health.loop_took(4100)
    health.read_took(255)
    health.tc_faults = 3

    fields = health.report(3_725_500, 90_000, -67, Link(), Buffer(), True)

    assert set(fields) == {field.key for field in HEALTH_FIELDS}
    decoded = decode_health(encode_health(4, 3_725_500, fields))
    assert decoded["uptime_s"] == 3725
    assert decoded["max_loop_s"] == 4.1
    assert decoded["read_s"] == 0.255
    assert decoded["buffer_depth"] == 12
    assert len(decoded["last_error"]) == 120
    again = health.report(3_785_500, 90_000, None, Link(), Buffer(), False)
    assert (again["max_loop_s"], again["read_s"]) == (0, 0)


def test_an_impossible_rssi_is_reported_as_unknown():
    assert Health().report(0, 1, 5, Link(), Buffer(), False)["rssi"] is None
