"""The main loop with every part real but the hardware and the network: the firmware's
own classes, the real adafruit_minimqtt against a fake broker, a fake MAX31856 and ADC,
all on one virtual clock. What the broker receives is checked against the contract."""

import json
from typing import TYPE_CHECKING, cast

import adafruit_minimqtt.adafruit_minimqtt as minimqtt
import pytest

from sensor_node.backoff import Backoff
from sensor_node.boot import birth_payload
from sensor_node.clock import WallClock
from sensor_node.console import Console
from sensor_node.flame import FlameSensor
from sensor_node.health import Health
from sensor_node.link import Link
from sensor_node.node import Node
from sensor_node.recovery import RecoveryLadder
from sensor_node.ring_buffer import ReadingBuffer
from sensor_node.settings import load_settings
from sensor_node.status_led import COLOURS, CONFIG_ERROR, OFFLINE, ONLINE, SENSOR_FAULT, StatusLed
from sensor_node.thermocouple import FaultDebouncer, Thermocouple
from sensor_node.timing import Uptime
from sensor_protocol.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES
from sensor_protocol.payloads import decode_health, decode_readings, decode_status
from tests.unit.firmware.fakes import (
    VALID_ENV,
    FakeAdc,
    FakeBoard,
    FakeBroker,
    FakeClock,
    FakeMax31856,
    FakePixel,
    FakeRadio,
    FakeSocketPool,
    FakeWatchdog,
    close_sockets,
    events,
)

if TYPE_CHECKING:
    from watchdog import WatchDogTimer
    from wifi import Radio

EPOCH_MS = 1_764_000_000_000
"""Wall time at boot, as the fake NTP server tells it."""


class NodeRig:
    def __init__(self, monkeypatch, capacity=1000, ntp_ok=True, **env):
        self.clock = clock = FakeClock()
        monkeypatch.setattr(minimqtt, "ticks_ms", clock.ticks)
        self.broker = FakeBroker(clock)
        self.radio = FakeRadio(clock)
        self.ntp_ok = ntp_ok
        uptime = Uptime(clock.ticks)
        self.lines: list[str] = []
        console = Console(uptime.ms, self.lines.append)
        values = dict(VALID_ENV)
        values.update(env)
        settings = load_settings(values.get, FakeBoard)
        self.driver = FakeMax31856(clock, conversion_ms=250)
        self.watchdog = FakeWatchdog(clock)
        self.pixel = FakePixel()
        self.resets: list[str] = []
        self.buffer = ReadingBuffer(capacity)
        link = Link(
            settings=settings,
            # The fakes have what the node and the link use of the real parts.
            radio=cast("Radio", self.radio),
            make_pool=lambda radio: FakeSocketPool(self.broker, self.ntp_wall_s),
            mqtt_class=minimqtt.MQTT,
            mqtt_error=minimqtt.MMQTTException,
            close_sockets=close_sockets,
            birth_payload=birth_payload(
                boot=7,
                board_id="fake_board",
                reset_reason="POWER_ON",
                safe_mode_reason=None,
                reset_cause=None,
                sample_period_s=5,
            ),
            uptime=uptime,
            console=console,
            backoff=Backoff(uptime, 1000, 30000, lambda: 0.5),
            ladder=RecoveryLadder(120_000, 1_800_000, 0),
            reset_board=self.resets.append,
            feed=self.watchdog.feed,
            radio_restart=True,
        )
        self.link = link
        self.node = Node(
            settings=settings,
            boot=7,
            uptime=uptime,
            console=console,
            watchdog=cast("WatchDogTimer", self.watchdog),
            thermocouple=Thermocouple(lambda: self.driver, 4, 60, uptime),
            debouncer=FaultDebouncer(settings["FAULT_DEBOUNCE"]),
            flame=FlameSensor(FakeAdc([40000]), 3.3 / 65535, 2.0, 0.0, 15),
            buffer=self.buffer,
            link=link,
            clock=WallClock(
                uptime=uptime,
                server="ntp",
                port=123,
                timeout_s=2.0,
                resync_ms=3600_000,
                console=console,
            ),
            health=Health(),
            led=StatusLed(pixel=self.pixel),
            mem_free=lambda: 100_000,
            sleep=clock.sleep,
        )

    def ntp_wall_s(self):
        """The NTP server's time, or None while it does not answer."""
        return (EPOCH_MS + self.clock.ms) / 1000 if self.ntp_ok else None

    def run(self, seconds):
        end = self.clock.ms + seconds * 1000
        while self.clock.ms < end:
            self.node.step()
            self.clock.sleep(self.node.idle_s())

    def readings(self, channel):
        out = []
        for message in self.broker.publishes(channel):
            payload = decode_readings(message.payload)
            assert len(message.payload) <= MAX_PAYLOAD_BYTES
            for reading in payload["readings"]:
                out.append((payload, reading))
        return out

    def events(self, name):
        return [fields for event, fields in events(self.lines) if event == name]


def test_live_readings_go_out_one_per_telemetry_message(monkeypatch):
    rig = NodeRig(monkeypatch)
    rig.run(61)

    live = rig.readings("telemetry")
    assert [reading["seq"] for _, reading in live] == list(range(13))
    for payload, reading in live:
        assert len(payload["readings"]) == 1
        assert payload["boot"] == 7
        # Sampled on a fixed 5 s grid; published within the conversion time.
        assert reading["up_ms"] == reading["seq"] * 5000
        assert 0 <= payload["sent_up_ms"] - reading["up_ms"] < 400
        assert reading["t"] == EPOCH_MS + reading["up_ms"]
        assert reading["temp_c"] == 1100.0
        assert reading["flame_v"] == pytest.approx(40000 * 3.3 / 65535 * 2, abs=1e-3)
        assert reading["faults"] == 0
    assert rig.broker.publishes("backfill") == []
    assert len(rig.buffer) == 0


def test_the_birth_comes_first_and_is_retained(monkeypatch):
    rig = NodeRig(monkeypatch)
    rig.run(6)

    first = rig.broker.received[0]
    assert first.topic.endswith("/status")
    assert first.retain
    assert decode_status(first.payload)["state"] == "online"


def test_readings_wait_for_the_clock_then_go_out_stamped_from_their_uptime(monkeypatch):
    """The host cannot place a reading without a time: none goes out before the first sync,
    while health says the clock is not valid; then every one of the boot is stamped."""
    rig = NodeRig(monkeypatch, ntp_ok=False)
    rig.run(130)

    assert rig.readings("telemetry") == rig.readings("backfill") == []
    assert len(rig.buffer) >= 25
    assert rig.events("ntp_failed")
    assert decode_health(rig.broker.publishes("health")[-1].payload)["clock_valid"] is False
    rig.ntp_ok = True
    rig.run(70)

    sent = rig.readings("backfill") + rig.readings("telemetry")
    seqs = [reading["seq"] for _, reading in sent]
    assert seqs == list(range(len(seqs))) and len(seqs) >= 38
    assert all(reading["t"] == EPOCH_MS + reading["up_ms"] for _, reading in sent)


def test_an_outage_is_backfilled_oldest_first_exactly_once(monkeypatch):
    rig = NodeRig(monkeypatch)
    rig.run(20)
    rig.broker.mode = "close"
    rig.run(1)
    rig.broker.mode = "refuse"
    rig.run(600)
    rig.broker.mode = "up"
    rig.run(120)

    live = rig.readings("telemetry")
    backfill = rig.readings("backfill")
    seqs = sorted(reading["seq"] for _, reading in live + backfill)
    assert seqs == list(range(seqs[-1] + 1)), "every reading exactly once"
    backfill_seqs = [reading["seq"] for _, reading in backfill]
    assert backfill_seqs == sorted(backfill_seqs), "oldest first"
    assert len(backfill_seqs) >= 600 / 5
    for payload, reading in backfill:
        assert len(payload["readings"]) <= MAX_BATCH_READINGS
        assert reading["up_ms"] == reading["seq"] * 5000, "the original sample time"
        assert reading["t"] == EPOCH_MS + reading["up_ms"]
    assert max(reading["seq"] for _, reading in live) > max(backfill_seqs), "live after"
    assert rig.events("backfill_done")[0]["readings"] == str(len(backfill_seqs))
    assert len(rig.buffer) == 0


def test_a_heap_without_room_for_a_batch_sends_smaller_ones_and_loses_nothing(monkeypatch):
    """On CircuitPython's VM a Pico W once could not find 2,771 contiguous bytes for a
    backfill payload after an outage; a MemoryError there used to reset the board."""
    import sensor_node.node as node_module

    encode = node_module.encode_readings
    room = 3

    def fragmented(boot, sent_up_ms, rows):
        rows = list(rows)
        if len(rows) > room:
            raise MemoryError("memory allocation failed, allocating 2771 bytes")
        return encode(boot, sent_up_ms, rows)

    monkeypatch.setattr(node_module, "encode_readings", fragmented)
    rig = NodeRig(monkeypatch)
    rig.run(20)
    rig.broker.mode = "refuse"
    rig.run(300)
    rig.broker.mode = "up"
    rig.run(120)

    seqs = sorted(r["seq"] for _, r in rig.readings("telemetry") + rig.readings("backfill"))
    assert seqs == list(range(seqs[-1] + 1)), "every reading exactly once"
    # Halved from MAX_BATCH_READINGS (24) until a payload fits.
    assert [e["readings"] for e in rig.events("batch_shrunk")] == ["12", "6", "3"]
    assert all(len(p["readings"]) <= room for p, _ in rig.readings("backfill"))
    assert rig.events("backfill_done"), "the backfill ended"
    assert rig.resets == []


def test_a_reading_leaves_the_buffer_only_on_its_puback(monkeypatch):
    rig = NodeRig(monkeypatch)
    rig.run(6)
    rig.broker.mode = "silent"
    rig.run(10)

    assert len(rig.buffer) >= 1
    assert rig.link.online is False
    rig.broker.mode = "up"
    rig.run(30)

    seqs = [r["seq"] for _, r in rig.readings("telemetry") + rig.readings("backfill")]
    assert set(seqs) == set(range(max(seqs) + 1))
    assert len(rig.buffer) == 0


def test_a_full_buffer_drops_the_oldest_and_says_so(monkeypatch):
    rig = NodeRig(monkeypatch, capacity=60)
    rig.broker.mode = "refuse"
    rig.run(600)
    rig.broker.mode = "up"
    rig.run(120)

    backfill = [reading["seq"] for _, reading in rig.readings("backfill")]
    assert backfill[0] >= 60, "the oldest readings were dropped"
    assert backfill == list(range(backfill[0], backfill[0] + len(backfill)))
    assert rig.buffer.drops >= 60
    drops = rig.events("buffer_drop")
    assert 1 <= len(drops) <= 10, "rate-limited"
    health = decode_health(rig.broker.publishes("health")[-1].payload)
    assert health["buffer_drops"] == rig.buffer.drops


def test_health_every_period_in_the_contract(monkeypatch):
    rig = NodeRig(monkeypatch)
    rig.run(185)

    reports = [decode_health(m.payload) for m in rig.broker.publishes("health")]
    assert len(reports) == 3
    last = reports[-1]
    assert last["uptime_s"] == 180
    assert last["buffer_capacity"] == 1000
    assert last["clock_valid"] is True
    assert last["rssi"] == -61
    assert last["mem_free"] == 100_000
    assert 0.25 <= last["read_s"] < 0.3
    assert 0 < last["max_loop_s"] < 1
    assert last["reconnects"] == 0


def test_health_without_ap_info_reports_no_rssi(monkeypatch):
    # Pico W, Pico 2 W: wifi.radio.ap_info raises NotImplementedError
    # (ports/raspberrypi/common-hal/wifi/Radio.c), in every health report.
    rig = NodeRig(monkeypatch)
    rig.radio.ap_info_raises = True
    rig.run(185)

    reports = [decode_health(m.payload) for m in rig.broker.publishes("health")]
    assert len(reports) == 3
    assert reports[-1]["rssi"] is None


@pytest.mark.parametrize(
    ("mode", "delay_ms", "wifi"),
    [
        ("refuse", 0, True),
        ("blackhole", 0, True),
        ("silent", 0, True),
        ("close", 0, True),
        ("auth", 0, True),
        ("up", 2500, True),
        ("up", 6000, True),
        ("up", 0, False),
    ],
)
def test_no_iteration_outlasts_the_watchdog_in_any_fault(monkeypatch, mode, delay_ms, wifi):
    rig = NodeRig(monkeypatch)
    rig.run(30)
    rig.broker.mode = mode
    rig.broker.delay_ms = delay_ms
    if not wifi:
        rig.radio.connected = False
        rig.radio.join_ok = False
    rig.run(400)
    rig.broker.mode = "up"
    rig.broker.delay_ms = 0
    rig.radio.join_ok = True
    rig.run(120)

    assert rig.watchdog.max_gap_ms < 8000
    assert rig.watchdog.max_gap_ms <= 5100
    assert rig.link.online
    seqs = [r["seq"] for _, r in rig.readings("telemetry") + rig.readings("backfill")]
    assert set(seqs) == set(range(max(seqs) + 1)), "nothing lost"


def test_fault_flags_are_debounced_published_and_cleared(monkeypatch):
    rig = NodeRig(monkeypatch)
    rig.run(11)
    rig.driver.faults = 0x01
    rig.run(20)
    rig.driver.faults = 0
    rig.run(30)

    readings = [reading for _, reading in rig.readings("telemetry")][:11]
    flags = [reading["faults"] for reading in readings]
    temps = [reading["temp_c"] for reading in readings]
    # Open from 11 s to 31 s: raw faults at 15..30 s, flagged from the third (25 s) until
    # three clean readings (35..45 s) clear it.
    assert flags == [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    assert temps[:3] == [1100.0] * 3
    assert temps[3:9] == [None] * 6, "no faulted temperature, debounced or not"
    assert temps[9:] == [1100.0] * 2
    assert rig.events("fault_set") == [{"fault": "open_tc", "flags": "1"}]
    assert rig.events("fault_clear") == [{"fault": "open_tc", "flags": "0"}]
    assert decode_health(rig.broker.publishes("health")[0].payload)["tc_faults"] == 4


def test_the_led_shows_the_state(monkeypatch):
    rig = NodeRig(monkeypatch)
    rig.run(10)
    assert rig.pixel[0] == COLOURS[ONLINE]

    rig.broker.mode = "refuse"
    rig.link.check()
    rig.radio.connected = False
    rig.radio.join_ok = False
    rig.run(20)
    assert rig.pixel[0] == COLOURS[OFFLINE]

    rig.driver.faults = 0x01
    rig.run(20)
    assert rig.pixel[0] == COLOURS[SENSOR_FAULT]
    assert COLOURS[CONFIG_ERROR] not in rig.pixel.writes


def test_the_ntp_clock_is_synced_and_its_failures_do_not_block(monkeypatch):
    rig = NodeRig(monkeypatch)
    rig.run(10)
    synced = rig.events("ntp_synced")
    assert len(synced) == 1
    assert synced[0]["step_ms"] == "-"
    assert int(synced[0]["epoch_ms"]) - EPOCH_MS < 10_000


def test_readings_fit_the_contract_sizes(monkeypatch):
    rig = NodeRig(monkeypatch)
    rig.broker.mode = "refuse"
    rig.run(300)
    rig.broker.mode = "up"
    rig.run(60)

    for message in rig.broker.publishes("backfill"):
        body = json.loads(message.payload)
        assert len(message.payload) <= MAX_PAYLOAD_BYTES
        assert 1 <= len(body["readings"]) <= MAX_BATCH_READINGS
