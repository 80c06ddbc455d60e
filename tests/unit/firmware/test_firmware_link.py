"""The MQTT link with the real adafruit_minimqtt against a fake broker on virtual time:
what the broker receives, and how long each operation blocks under every network fault.

Every socket call advances the virtual clock by as long as it would block on a board, and
MiniMQTT's own timeouts read the same clock, so the durations measured here are the
worst cases the watchdog sees."""

import errno
import itertools
from typing import TYPE_CHECKING, cast

import adafruit_minimqtt.adafruit_minimqtt as minimqtt
import pytest

from sensor_node.backoff import Backoff
from sensor_node.console import Console
from sensor_node.link import (
    BACKOFF_CAP_MS,
    PING_TIMEOUT_S,
    RECV_TIMEOUT_S,
    SOCKET_TIMEOUT_S,
    TLS_FIX,
    TLS_RAM_FIX,
    WIFI_CONNECT_TIMEOUT_S,
    Link,
    client_id,
    errno_of,
    host_answered,
)
from sensor_node.recovery import RecoveryLadder
from sensor_node.settings import load_settings
from sensor_node.timing import Uptime
from sensor_protocol.payloads import OFFLINE_PAYLOAD
from tests.unit.firmware.fakes import (
    VALID_ENV,
    FakeBoard,
    FakeBroker,
    FakeClock,
    FakeRadio,
    FakeSocketPool,
    FakeWatchdog,
    close_sockets,
    events,
)

WATCHDOG_MS = 8000
CONNECT_BOUND_MS = (SOCKET_TIMEOUT_S + RECV_TIMEOUT_S + SOCKET_TIMEOUT_S) * 1000 + 50
PUBLISH_BOUND_MS = (RECV_TIMEOUT_S + SOCKET_TIMEOUT_S) * 1000 + 50
PING_BOUND_MS = (PING_TIMEOUT_S + SOCKET_TIMEOUT_S) * 1000 + 50
STATUS_TOPIC = "furnace/studio1/furnace1/status"

if TYPE_CHECKING:
    from wifi import Radio


class FakeTlsSocket:
    """What ``ssl.SSLContext.wrap_socket`` returns: the handshake runs in ``connect``
    (shared-module/ssl/SSLSocket.c), after the TCP connect, and a certificate that does not
    verify raises mbedTLS's code as CircuitPython does."""

    def __init__(self, sock, context):
        self._sock = sock
        self._context = context

    def connect(self, address):
        self._sock.connect(address)
        if self._context.out_of_memory:
            # The handshake's 16.7 kB block (mbedTLS allocates on the GC heap).
            raise MemoryError
        if not self._context.verifies:
            raise OSError(-9984, "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED")

    def __getattr__(self, name):
        return getattr(self._sock, name)


class FakeSslContext:
    def __init__(self, verifies=True, out_of_memory=False):
        self.verifies = verifies
        self.out_of_memory = out_of_memory
        self.hostnames = []

    def wrap_socket(self, sock, server_hostname=None):
        self.hostnames.append(server_hostname)
        return FakeTlsSocket(sock, self)


class Rig:
    def __init__(self, monkeypatch, radio_restart=True, ssl_context=None, **env):
        self.clock = FakeClock()
        monkeypatch.setattr(minimqtt, "ticks_ms", self.clock.ticks)
        self.broker = FakeBroker(self.clock)
        self.radio = FakeRadio(self.clock)
        self.uptime = Uptime(self.clock.ticks)
        self.lines: list[str] = []
        console = Console(self.uptime.ms, self.lines.append)
        values = dict(VALID_ENV)
        values.update(env)
        settings = load_settings(values.get, FakeBoard)
        self.pools = []
        self.resets: list[str] = []
        self.ladder = RecoveryLadder(120_000, 1_800_000, 0)
        self.watchdog = FakeWatchdog(self.clock)
        self.link = Link(
            settings=settings,
            # The fake has what the link uses of the real one.
            radio=cast("Radio", self.radio),
            make_pool=self._make_pool,
            mqtt_class=minimqtt.MQTT,
            mqtt_error=minimqtt.MMQTTException,
            close_sockets=close_sockets,
            birth_payload='{"v": 1, "state": "online"}',
            uptime=self.uptime,
            console=console,
            backoff=Backoff(self.uptime, 1000, 30000, lambda: 0.5),
            ladder=self.ladder,
            reset_board=self.resets.append,
            feed=self.watchdog.feed,
            radio_restart=radio_restart,
            ssl_context=ssl_context,
        )

    def _make_pool(self, radio):
        self.pools.append(FakeSocketPool(self.broker))
        return self.pools[-1]

    def timed(self, call, *args):
        start = self.clock.ms
        result = call(*args)
        return result, self.clock.ms - start

    def events(self):
        return [event for event, _ in events(self.lines)]

    def fields(self, name):
        return [fields for event, fields in events(self.lines) if event == name]

    def connect(self):
        self.link.connect_step()
        assert self.link.online
        assert self.link.publish_birth()

    def run_offline(self, seconds, step_ms=100):
        """The loop's view while offline: a connect step each iteration, time passing."""
        longest = 0
        end = self.clock.ms + seconds * 1000
        while self.clock.ms < end and not self.resets:
            if not self.link.online:
                _, took = self.timed(self.link.connect_step)
                longest = max(longest, took)
            self.clock.advance(step_ms)
        return longest


def test_the_session_carries_the_will_keepalive_and_fixed_client_id(monkeypatch):
    rig = Rig(monkeypatch, MQTT_USER="node", MQTT_PASSWORD="pw")
    rig.connect()

    connect = rig.broker.connects[0]
    assert connect["client_id"] == client_id("furnace", "studio1", "furnace1")
    assert connect["keep_alive"] == 15
    assert connect["will"] == (STATUS_TOPIC, OFFLINE_PAYLOAD.encode(), 1, True)
    assert (connect["user"], connect["password"]) == ("node", "pw")
    birth = rig.broker.received[0]
    assert (birth.topic, birth.qos, birth.retain) == (STATUS_TOPIC, 1, True)
    assert rig.events() == ["mqtt_connected", "birth_published"]


def test_no_login_is_sent_without_a_user(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect()

    assert "user" not in rig.broker.connects[0]


def test_readings_go_out_at_qos_1(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect()

    assert rig.link.publish("telemetry", '{"x": 1}')
    message = rig.broker.received[-1]
    assert (message.topic, message.qos, message.retain) == (
        "furnace/studio1/furnace1/telemetry",
        1,
        False,
    )


@pytest.mark.parametrize(
    ("mode", "delay_ms"),
    [
        ("refuse", 0),
        ("blackhole", 0),
        ("silent", 0),
        ("auth", 0),
        ("unavailable", 0),
        ("up", 5000),
    ],
)
def test_a_failed_connect_stays_within_its_bound(monkeypatch, mode, delay_ms):
    rig = Rig(monkeypatch)
    rig.broker.mode = mode
    rig.broker.delay_ms = delay_ms

    did_block, took = rig.timed(rig.link.connect_step)

    assert did_block
    assert not rig.link.online
    assert took <= CONNECT_BOUND_MS < WATCHDOG_MS
    assert rig.events() == ["mqtt_connect_failed", "backoff"]
    assert rig.link.last_error
    assert not rig.link.connect_step(), "the backoff holds the next attempt"


def test_a_slow_broker_within_the_timeouts_still_works(monkeypatch):
    rig = Rig(monkeypatch)
    rig.broker.delay_ms = 1500

    _, took = rig.timed(rig.link.connect_step)
    assert rig.link.online
    assert took <= CONNECT_BOUND_MS
    ok, took = rig.timed(rig.link.publish, "telemetry", "{}")
    assert ok
    assert 1500 <= took <= PUBLISH_BOUND_MS


def test_a_rejected_login_is_reported_with_its_code(monkeypatch):
    rig = Rig(monkeypatch)
    rig.broker.mode = "auth"
    rig.link.connect_step()

    failure = rig.fields("mqtt_connect_failed")[0]
    assert failure["code"] == "5"
    assert "Unauthorized" in failure["reason"]


@pytest.mark.parametrize(("mode", "delay_ms"), [("silent", 0), ("close", 0), ("up", 5000)])
def test_a_publish_that_fails_drops_the_session_within_its_bound(monkeypatch, mode, delay_ms):
    rig = Rig(monkeypatch)
    rig.connect()
    rig.broker.mode = mode
    rig.broker.delay_ms = delay_ms

    ok, took = rig.timed(rig.link.publish, "backfill", "{}")

    assert not ok
    assert took <= PUBLISH_BOUND_MS < WATCHDOG_MS
    assert not rig.link.online
    assert rig.events()[-2:] == ["publish_failed", "mqtt_disconnected"]
    # No DISCONNECT: the broker must see a lost client and publish the retained will.
    assert rig.broker.disconnects == 0
    assert all(sock.closed for sock in rig.broker.sockets)
    assert rig.pools == rig.pools[:1] and not rig.pools[0].forgotten, "the pool is kept"


def test_the_session_comes_back_after_a_broker_restart(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect()
    rig.broker.mode = "close"
    assert not rig.link.publish("telemetry", "{}")
    rig.broker.mode = "refuse"

    longest = rig.run_offline(20)
    assert not rig.link.online
    rig.broker.mode = "up"
    rig.run_offline(20)

    assert rig.link.online
    assert rig.link.birth_pending
    assert rig.link.reconnects == 1
    assert longest <= CONNECT_BOUND_MS


def test_a_broker_that_never_acknowledges_is_not_hammered(monkeypatch):
    rig = Rig(monkeypatch)
    rig.broker.mode = "noack"
    end = 120_000
    while rig.clock.ms < end:
        if not rig.link.online:
            rig.link.connect_step()
        elif rig.link.birth_pending:
            rig.link.publish_birth()
        rig.clock.advance(100)

    assert 5 <= len(rig.broker.connects) <= 9, "attempts spaced by the backoff"
    assert len(rig.fields("backoff")) == len(rig.broker.connects)


def test_a_session_that_worked_is_retried_at_once(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect()
    rig.broker.mode = "silent"
    rig.link.publish("telemetry", "{}")
    rig.broker.mode = "up"

    assert "backoff" not in rig.events()
    rig.link.connect_step()
    assert rig.link.online


def test_a_quiet_session_pings_within_its_bound(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect()

    assert not rig.link.ping_due()
    rig.clock.advance(10_000)
    assert rig.link.ping_due()
    assert rig.link.ping()
    assert rig.broker.pings == 1
    assert not rig.link.ping_due()

    rig.clock.advance(10_000)
    rig.broker.mode = "silent"
    ok, took = rig.timed(rig.link.ping)
    assert not ok
    assert took <= PING_BOUND_MS
    assert not rig.link.online


def test_publishing_postpones_the_ping(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect()
    for _ in range(5):
        rig.clock.advance(5000)
        rig.link.publish("telemetry", "{}")
        assert not rig.link.ping_due()


def test_a_lost_access_point_drops_the_session(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect()
    rig.radio.connected = False

    rig.link.check()

    assert not rig.link.online
    assert rig.fields("mqtt_disconnected")[-1]["reason"] == "wifi lost"


def test_wifi_is_joined_first_within_its_bound(monkeypatch):
    rig = Rig(monkeypatch)
    rig.radio.connected = False
    rig.radio.join_ok = False

    _, took = rig.timed(rig.link.connect_step)

    assert took <= WIFI_CONNECT_TIMEOUT_S * 1000 < WATCHDOG_MS
    assert rig.radio.joins == [("studio-wifi", "secret-pass", WIFI_CONNECT_TIMEOUT_S)]
    assert rig.events() == ["wifi_connect_failed", "backoff"]

    rig.radio.join_ok = True
    rig.clock.advance(1000)
    rig.link.connect_step()
    assert rig.events()[-1] == "wifi_connected"
    rig.link.connect_step()
    assert rig.link.online


def test_a_silent_network_restarts_the_radio_then_resets_the_board(monkeypatch):
    rig = Rig(monkeypatch)
    rig.broker.mode = "blackhole"

    longest = rig.run_offline(2000)

    restarts = [int(r["offline_s"]) for r in rig.fields("radio_restart")]
    # Silence is measured by attempts: the restart comes at the first attempt that finds
    # 120 s without an answer, within one backoff wait and one connect after it.
    attempt_s = BACKOFF_CAP_MS // 1000 + CONNECT_BOUND_MS // 1000 + 1
    assert 120 <= restarts[0] <= 120 + attempt_s
    # Re-joining the access point after a restart is an answer: the next restart waits for
    # another RADIO_RESTART_AFTER_S of silence after it.
    assert all(120 <= b - a <= 120 + attempt_s for a, b in itertools.pairwise(restarts))
    assert rig.radio.toggles[:2] == [False, True]
    assert len(rig.pools) == 1 + len(restarts), "a new socket pool per radio restart"
    assert all(pool.forgotten for pool in rig.pools[:-1]), "and the old one forgotten"
    assert len(rig.resets) == 1
    offline_s = int(rig.resets[0].split()[1])
    assert 1800 <= offline_s <= 1800 + 120 + attempt_s
    assert "network silent 12" in rig.resets[0]
    assert "ETIMEDOUT" in rig.resets[0]
    assert longest <= WIFI_CONNECT_TIMEOUT_S * 1000


@pytest.mark.parametrize(
    ("mode", "reset_errno"),
    [
        # lwIP reports the TCP reset of a closed port as ECONNRESET on both ports
        # (ports/*/common-hal/socketpool/Socket.c); another stack says ECONNREFUSED.
        ("refuse", errno.ECONNRESET),
        ("refuse", errno.ECONNREFUSED),
        # MiniMQTT 8.1.0 turns CONNACK codes 1-3 into a plain "Connect failure".
        ("unavailable", None),
        ("auth", None),
    ],
)
def test_a_refusing_broker_never_costs_a_reset(monkeypatch, mode, reset_errno):
    rig = Rig(monkeypatch)
    rig.broker.mode = mode
    rig.broker.reset_errno = reset_errno

    longest = rig.run_offline(4000)

    assert rig.resets == []
    assert "radio_restart" not in rig.events()
    assert longest <= CONNECT_BOUND_MS


@pytest.mark.parametrize("timeout_errno", [errno.ETIMEDOUT, errno.EINPROGRESS])
def test_a_connect_timeout_is_no_answer(monkeypatch, timeout_errno):
    # espressif says ETIMEDOUT, raspberrypi EINPROGRESS (its Socket.c connect).
    rig = Rig(monkeypatch)
    rig.broker.mode = "blackhole"
    rig.broker.connect_timeout_errno = timeout_errno

    rig.run_offline(130)

    assert "radio_restart" in rig.events()


@pytest.mark.parametrize(
    ("logged", "answered"),
    [
        ("MMQT error: Connection Refused - Server unavailable", True),
        ("Socket error when connecting: [Errno 104] ECONNRESET", True),
        ("Socket error when connecting: [Errno 111] ECONNREFUSED", True),
        (f"Socket error when connecting: [Errno {errno.EINPROGRESS}] EINPROGRESS", False),
        (f"Socket error when connecting: [Errno {errno.ETIMEDOUT}] ETIMEDOUT", False),
        ("MMQT error: No data received from broker for 2 seconds.", False),
    ],
)
def test_without_an_exception_chain_the_logged_text_tells(logged, answered):
    # A build without MICROPY_CPYTHON_EXCEPTION_CHAIN keeps no __cause__.
    assert host_answered(minimqtt.MMQTTException("Connect failure"), logged) is answered


def test_rssi_is_unknown_where_the_port_has_no_ap_info(monkeypatch):
    # ports/raspberrypi/common-hal/wifi/Radio.c: ap_info raises NotImplementedError.
    rig = Rig(monkeypatch)
    rig.radio.ap_info_raises = True
    rig.radio.connected = False

    rig.link.connect_step()

    assert rig.link.rssi() is None
    assert rig.fields("wifi_connected")[0]["rssi"] == "-", "the console shows None as -"


def test_a_radio_that_cannot_restart_is_not_restarted(monkeypatch):
    # raspberrypi: enabled = False only leaves the network; the ladder goes on to the reset.
    rig = Rig(monkeypatch, radio_restart=False)
    rig.broker.mode = "blackhole"

    rig.run_offline(2000)

    assert "radio_restart" not in rig.events()
    assert rig.events().count("radio_restart_skipped") == 1
    assert rig.radio.toggles == [] and len(rig.pools) == 1
    assert len(rig.resets) == 1
    assert 1800 <= int(rig.resets[0].split()[1]) <= 1800 + 5


def test_the_wifi_join_gets_the_whole_watchdog(monkeypatch):
    # espressif: the timeout does not bound the join; a silent access point costs 14.4 s.
    rig = Rig(monkeypatch)
    rig.radio.connected = False
    rig.radio.join_ok = False
    rig.radio.join_fails_after_s = 14.4
    rig.watchdog.feed()
    rig.clock.advance(3000)  # the rest of the iteration before the join

    rig.link.connect_step()

    assert rig.watchdog.max_gap_ms == 3000, "fed just before the join, not after the 14.4 s"


def test_backoff_spaces_attempts_up_to_its_cap(monkeypatch):
    rig = Rig(monkeypatch)
    rig.broker.mode = "refuse"

    rig.run_offline(300)

    waits = [float(f["wait_s"]) for f in rig.fields("backoff")]
    assert waits[:6] == [0.75, 1.5, 3.0, 6.0, 12.0, 22.5]
    assert max(waits) == 22.5


def test_errno_is_read_from_error_text():
    assert errno_of("Socket error when connecting: [Errno 111] ECONNREFUSED") == 111
    assert errno_of("[Errno 113] EHOSTUNREACH") == 113
    assert errno_of("Connect failure") is None
    assert errno_of("[Errno x]") is None


def test_a_tls_session_verifies_the_broker_for_its_name(monkeypatch):
    context = FakeSslContext()
    rig = Rig(monkeypatch, ssl_context=context)

    rig.connect()

    assert context.hostnames == ["127.0.0.1"], "server_hostname is MQTT_BROKER"
    assert rig.broker.publishes("status")[0].retain


def test_a_certificate_that_does_not_verify_never_costs_a_reset(monkeypatch):
    # A wrong CA, a wrong name and no memory to verify all read -9984 on mbedTLS 2.28: the
    # broker's host answered, so neither a radio restart nor a reset can help.
    rig = Rig(monkeypatch, ssl_context=FakeSslContext(verifies=False))

    longest = rig.run_offline(4000)

    assert rig.resets == []
    assert "radio_restart" not in rig.events()
    assert "mqtt_connect_failed" not in rig.events()
    refused = rig.fields("mqtt_tls_refused")
    assert len(refused) == len(rig.fields("backoff")), "one line per attempt"
    assert refused[0]["fix"] == TLS_FIX
    assert "-9984" in refused[0]["reason"]
    assert longest <= CONNECT_BOUND_MS


def test_a_handshake_without_memory_never_costs_a_reset(monkeypatch):
    # A Pico W on TLS: the TCP connect succeeded, so the network works; a reset would lose
    # the readings and meet the same heap again.
    rig = Rig(monkeypatch, ssl_context=FakeSslContext(out_of_memory=True))

    rig.run_offline(4000)

    assert rig.resets == []
    assert "radio_restart" not in rig.events()
    no_memory = rig.fields("mqtt_tls_no_memory")
    assert len(no_memory) == len(rig.fields("backoff")), "one line per attempt"
    assert no_memory[0]["fix"] == TLS_RAM_FIX


@pytest.mark.parametrize(
    "logged",
    [
        # CircuitPython prints OSError(code, name) as a tuple; a build without
        # MBEDTLS_ERROR_C raises OSError(code) alone.
        "Socket error when connecting: (-9984, 'MBEDTLS_ERR_X509_CERT_VERIFY_FAILED')",
        "Socket error when connecting: [Errno -9984] -9984",
    ],
)
def test_a_tls_error_without_an_exception_chain_is_an_answer(logged):
    assert errno_of(logged) == -9984
    assert host_answered(minimqtt.MMQTTException("Connect failure"), logged)
