"""
`sensor_node.link`
================================================================================
Wi-Fi and the MQTT session, with every blocking call bounded so that no loop iteration
outlasts the watchdog (8 s on RP2040) whatever the network does.

Each method does at most one blocking network operation; the main loop calls at most one
per iteration. Worst cases with the numbers below (``socket_timeout`` bounds each socket
call, ``recv_timeout`` each wait for a reply, and MiniMQTT checks the latter only after a
``socket_timeout`` read, hence the sums):

* Wi-Fi join, the longest, fed just before the call:

  - raspberrypi: ``WIFI_CONNECT_TIMEOUT_S`` = 5 s, plus up to 0.5 s leaving the old network
    (ports/raspberrypi/common-hal/wifi/Radio.c polls the CYW43 until the deadline).
  - espressif: the timeout is not a bound. Past the deadline ports/espressif/common-hal/wifi/
    Radio.c only stops the retries; the call waits for the driver to report success or
    failure. An absent access point fails after one all-channel scan, about 2.4 s (no
    retry: common-hal/wifi/__init__.c does not retry WIFI_REASON_NO_AP_FOUND). An access
    point that is found but never completes the association costs the scan and the
    driver's 1 s authentication, 1 s association and 10 s 4-way-handshake timers, 14.4 s an
    attempt, and an attempt started just before the deadline runs to its end: 5 + 14.4 =
    19.4 s. The ESP32 boards' WATCHDOG_MIN_S (25 s) and WATCHDOG_MAX_S (30 s) cover it.
* MQTT connect: TCP connect 1 s + CONNACK 2 s + 1 s = 4 s (plus a DNS lookup when
  ``MQTT_BROKER`` is a name; CircuitPython cannot bound that one). With TLS the handshake
  runs inside the connect (shared-module/ssl/SSLSocket.c): each of its reads is bounded by
  ``socket_timeout``, its computing (an ECDHE key exchange and ECDSA verifies on P-256) is
  not; it was not measured on a board.
* QoS 1 publish: a send that stalls 1 s, or PUBACK 2 s + 1 s = 3 s.
* ping: ``PING_TIMEOUT_S`` 2 s + 1 s = 3 s. MiniMQTT's ``ping()`` waits ``keep_alive`` for
  the PINGRESP (``KEEPALIVE_S``, 15 s by default), so the node lowers ``keep_alive`` around
  the call.
* radio restart: ``enabled`` off and on, well under a second. Only where that stops the
  radio (the board module's ``RADIO_RESTART``): on the Pico boards it would only leave the
  network, so the step is skipped (logged once) and the ladder goes on to the reset.

MiniMQTT's own reconnect loop (``connect_retries``) sleeps between attempts, so it runs
with one attempt and ``Backoff`` decides when to try again. A failed session is closed
without a DISCONNECT so that the broker publishes the retained ``offline`` will.

With an ``ssl_context`` the session runs over TLS, verifying the broker's certificate for the
name ``MQTT_BROKER``. A certificate that does not verify is an answer from the broker's host,
not a network fault: no radio restart or reset can fix it, so it never leads to one.
"""

import errno

from sensor_node.recovery import RESET, RESTART_RADIO
from sensor_node.timing import Deadline
from sensor_protocol.topics import BACKFILL, HEALTH, STATUS, TELEMETRY
from sensor_protocol.wire import OFFLINE_PAYLOAD

# For mypy: every annotation is a string, so nothing here is needed at run time (a board
# stops at typing).
try:
    from typing import Any, Callable, Dict, Optional, Union
    from wifi import Radio

    from sensor_node.backoff import Backoff
    from sensor_node.console import Console
    from sensor_node.recovery import RecoveryLadder
    from sensor_node.timing import Uptime
except ImportError:
    pass

_REFUSED = (errno.ECONNRESET, errno.ECONNREFUSED)
"""A connect answered with a TCP reset: the broker's host is up, its port closed. lwIP turns
the reset into ECONNRESET on both ports (ports/*/common-hal/socketpool/Socket.c)."""

TLS_VERIFY_FAILED = -9984
"""MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: a certificate not signed by the CA, made for another
name, or (mbedTLS 2.28 cannot tell them apart) no memory left to check it."""
MBEDTLS_ERRORS = -256
"""OSError numbers at or below this are mbedTLS's own, from a handshake that reached the
broker's host; above it, socket errnos passed through (shared-module/ssl/SSLSocket.c,
mbedtls_raise_error)."""
TLS_FIX = "the broker's certificate does not match ca.pem and MQTT_BROKER: provision again"

TLS_RAM_FIX = "write a smaller BUFFER_CAPACITY, or opt this board out of TLS (README)"
"""The handshake needs about 34 kB, 16.7 kB of it in one block (mbedTLS's input buffer);
docs/firmware-memory.md has each board's figures."""

SOCKET_TIMEOUT_S = 1
RECV_TIMEOUT_S = 2
PING_TIMEOUT_S = 2
WIFI_CONNECT_TIMEOUT_S = 5
BACKOFF_BASE_MS = 1000
BACKOFF_CAP_MS = 30000


def client_id(root: str, studio: str, device: str) -> str:
    """The fixed MQTT client id: the device's topic prefix (``root/studio/device``), unique
    per device and usable in a broker ACL pattern as ``%c/#``."""
    return "/".join((root, studio, device))


def errno_of(text: str) -> "Optional[int]":
    """The errno in an OSError's text (``[Errno 104] ...``, or an mbedTLS error as
    CircuitPython prints ``OSError(code, name)``: ``(-9984, 'MBEDTLS_ERR_...')``), or None.
    A build without exception chaining (MICROPY_CPYTHON_EXCEPTION_CHAIN follows
    CIRCUITPY_FULL_BUILD) keeps MiniMQTT's wrapped socket error only as logged text."""
    start = text.find("[Errno ")
    if start >= 0:
        start += 7
        end = text.find("]", start)
    else:
        start = text.find("(-")
        if start < 0:
            return None
        start += 1
        end = text.find(",", start)
    try:
        return int(text[start:end])
    except ValueError:
        return None


def _errno(exc: "BaseException", logged: str) -> "Optional[int]":
    """The errno behind a failed connect: its cause's where the build keeps one, else the
    one MiniMQTT logged."""
    number = getattr(getattr(exc, "__cause__", None) or exc, "errno", None)
    return errno_of(logged) if number is None else number


class _LastMessage:
    """A logger for MiniMQTT that keeps the last warning (the socket error or CONNACK
    refusal behind a "Connect failure", for a build that keeps no exception chain)."""

    def __init__(self) -> None:
        self.text = ""

    def debug(self, *args: "Any") -> None:
        """Dropped."""

    def info(self, message: str, *args: "Any") -> None:
        """Kept."""
        self.text = message

    def warning(self, message: str, *args: "Any") -> None:
        """Kept."""
        self.text = message

    error = warning
    critical = warning


def host_answered(exc: "BaseException", logged: str) -> bool:
    """The broker's host answered a failed connect: a TCP reset or refusal, or a CONNACK
    refusal. MiniMQTT 8.1.0 re-raises CONNACK codes 4 and 5 with their ``code``, and turns
    codes 1 to 3 (like a socket error) into a plain "Connect failure" whose cause, where
    the build keeps one, is the original; it also logs "MMQT error: Connection Refused -
    ..." or "Socket error when connecting: [Errno ...]". A timeout is no answer; a TLS
    handshake that failed on mbedTLS's side (a certificate that does not verify) is one."""
    cause = getattr(exc, "__cause__", None) or exc
    if getattr(cause, "code", None) is not None or "Connection Refused" in logged:
        return True
    number = _errno(exc, logged)
    return number in _REFUSED or (number is not None and number <= MBEDTLS_ERRORS)


def _reason(exc: "BaseException") -> str:
    """``Type: message[: cause]`` (MiniMQTT's exception args are ``(message, code)``); a
    cause without text (a MemoryError) by its type."""
    text = str(exc.args[0]) if hasattr(exc, "code") and exc.args else str(exc)
    cause = getattr(exc, "__cause__", None)
    if cause is not None:
        text = text + ": " + (str(cause) or type(cause).__name__)
    return type(exc).__name__ + ": " + text if text else type(exc).__name__


class Link:
    """The radio, the socket pool and the MQTT session of one node.

    ``mqtt_class`` is ``adafruit_minimqtt.adafruit_minimqtt.MQTT`` and ``mqtt_error`` its
    ``MMQTTException``. ``make_pool(radio)`` returns a socket pool and
    ``close_sockets(pool, forget)`` closes every socket of a pool, and with ``forget`` drops
    the pool itself (``sensor_node.app`` uses adafruit_connection_manager for both). Tests
    inject fakes. ``reset_board(cause)`` does not return. ``feed`` feeds the watchdog (just
    before the Wi-Fi join); ``radio_restart`` is the board module's ``RADIO_RESTART``.
    """

    def __init__(  # noqa: PLR0913 - every part injected, so that tests can replace each
        self,
        *,
        settings: "Dict[str, Any]",
        radio: "Radio",
        make_pool: "Callable[[Radio], Any]",
        mqtt_class: "Callable[..., Any]",
        mqtt_error: "type[Exception]",
        close_sockets: "Callable[[Any, bool], None]",
        birth_payload: str,
        uptime: "Uptime",
        console: "Console",
        backoff: "Backoff",
        ladder: "RecoveryLadder",
        reset_board: "Callable[[str], None]",
        feed: "Callable[[], None]",
        radio_restart: bool,
        ssl_context: "Any" = None,
    ) -> None:
        self._settings = settings
        self.radio = radio
        self._make_pool = make_pool
        self.pool = make_pool(radio)
        self._mqtt_class = mqtt_class
        self._mqtt_error = mqtt_error
        self._close_sockets = close_sockets
        self._birth = birth_payload
        self._uptime = uptime
        self._console = console
        self._backoff = backoff
        self._ladder = ladder
        self._reset_board = reset_board
        self._feed = feed
        self._radio_restart = radio_restart
        self._restart_skipped = False
        self._ssl_context = ssl_context
        root = settings["MQTT_TOPIC_ROOT"]
        studio = settings["STUDIO_ID"]
        device = settings["DEVICE_ID"]
        self._client_id = client_id(root, studio, device)
        # Imported here, not at module level: a function of topics held by this module would
        # keep all of topics in RAM after boot (sensor_node.app frees it).
        from sensor_protocol.topics import build_topic

        self._topics: Dict[str, str] = {}
        for channel in (TELEMETRY, BACKFILL, HEALTH, STATUS):
            self._topics[channel] = build_topic(root, studio, device, channel)
        self._broker = "%s:%d" % (settings["MQTT_BROKER"], settings["MQTT_PORT"])
        self._keepalive = settings["KEEPALIVE_S"]
        self._ping = Deadline(uptime)
        self._client: Any = None
        self._connections = 0
        self.birth_pending = False
        """Connected, but the retained birth message is not out yet."""
        self.radio_restarts = 0
        self.last_error: Optional[str] = None

    @property
    def online(self) -> bool:
        """True while a broker session is up."""
        return self._client is not None

    @property
    def reconnects(self) -> int:
        """Broker connections made since boot, minus the first."""
        return self._connections - 1 if self._connections else 0

    @property
    def wifi_connected(self) -> bool:
        """True while the radio is associated."""
        return bool(self.radio.connected)

    def topic(self, channel: str) -> str:
        """This node's topic for ``channel``."""
        return self._topics[channel]

    def rssi(self) -> "Optional[int]":
        """Signal strength in dBm; None when not associated, or where the port cannot tell
        (raspberrypi: ``ap_info`` raises NotImplementedError, common-hal/wifi/Radio.c)."""
        if not self.radio.connected:
            return None
        try:
            info = self.radio.ap_info
        except NotImplementedError:
            return None
        return None if info is None else info.rssi

    def network_answered(self) -> None:
        """Something outside the link (NTP) got an answer: the network works."""
        self._ladder.answered(self._uptime.ms())

    def check(self) -> None:
        """Drop the session when the radio lost its access point."""
        if self._client is not None and not self.radio.connected:
            self._drop("wifi lost")

    def connect_step(self, buffer_full: bool = True) -> bool:
        """While offline: climb the recovery ladder (no reset while the reading buffer has
        room) or make one connection attempt when the backoff allows. Returns True when it
        did a blocking operation."""
        now = self._uptime.ms()
        action = self._ladder.action(now, buffer_full)
        if action == RESET:
            self._reset_board(
                "offline %d s, network silent %d s, last error: %s"
                % (
                    self._ladder.offline_ms(now) // 1000,
                    self._ladder.silent_ms() // 1000,
                    self.last_error,
                )
            )
            return True
        if action == RESTART_RADIO:
            self._ladder.radio_restarted(now)
            if self._radio_restart:
                self._restart_radio(now)
                return True
            if not self._restart_skipped:
                self._restart_skipped = True
                self._console.warn(
                    "radio_restart_skipped", "reason", "this board cannot power-cycle its radio"
                )
        if not self._backoff.ready():
            return False
        if not self.radio.connected:
            self._connect_wifi()
        else:
            self._connect_mqtt()
        return True

    def _fail(self, event: str, reason: str, *pairs: "Any") -> None:
        self.last_error = reason
        attempt = self._backoff.failures + 1
        self._console.warn(event, "attempt", attempt, "reason", reason, *pairs)
        self._back_off()

    def _back_off(self) -> None:
        wait_ms = self._backoff.failed()
        self._console.info("backoff", "wait_s", wait_ms / 1000, "failures", self._backoff.failures)

    def _connect_wifi(self) -> None:
        ssid = self._settings["CIRCUITPY_WIFI_SSID"]
        self._feed()
        try:
            self.radio.connect(
                ssid, self._settings["CIRCUITPY_WIFI_PASSWORD"], timeout=WIFI_CONNECT_TIMEOUT_S
            )
        except (OSError, RuntimeError) as exc:
            self._ladder.unanswered(self._uptime.ms())
            self._fail("wifi_connect_failed", _reason(exc), "ssid", ssid)
            return
        self._ladder.answered(self._uptime.ms())
        self._console.info(
            "wifi_connected", "ssid", ssid, "ip", self.radio.ipv4_address, "rssi", self.rssi()
        )

    def _connect_mqtt(self) -> None:
        settings = self._settings
        client = self._mqtt_class(
            broker=settings["MQTT_BROKER"],
            port=settings["MQTT_PORT"],
            username=settings["MQTT_USER"] or None,
            password=settings["MQTT_PASSWORD"] or None,
            client_id=self._client_id,
            keep_alive=self._keepalive,
            socket_pool=self.pool,
            is_ssl=self._ssl_context is not None,
            ssl_context=self._ssl_context,
            socket_timeout=SOCKET_TIMEOUT_S,
            recv_timeout=RECV_TIMEOUT_S,
            connect_retries=1,
        )
        log = _LastMessage()
        client.logger = log
        client.will_set(self._topics[STATUS], OFFLINE_PAYLOAD, retain=True, qos=1)
        try:
            client.connect()
        except (self._mqtt_error, OSError, RuntimeError) as exc:
            code = getattr(getattr(exc, "__cause__", None) or exc, "code", None)
            reason = _reason(exc)
            if log.text and getattr(exc, "__cause__", None) is None:
                reason = reason + " (" + log.text + ")"
            no_memory = self._ssl_context is not None and reason.endswith("MemoryError")
            if no_memory or host_answered(exc, log.text):
                # The broker host answered (the handshake's memory runs out after the TCP
                # connect): the radio and the IP stack work, and a reset would only lose the
                # readings and come back to the same heap.
                self._ladder.answered(self._uptime.ms())
            else:
                self._ladder.unanswered(self._uptime.ms())
            if _errno(exc, log.text) == TLS_VERIFY_FAILED:
                self._fail("mqtt_tls_refused", reason, "broker", self._broker, "fix", TLS_FIX)
            elif no_memory:
                self._fail("mqtt_tls_no_memory", reason, "broker", self._broker, "fix", TLS_RAM_FIX)
            else:
                self._fail("mqtt_connect_failed", reason, "broker", self._broker, "code", code)
            return
        now = self._uptime.ms()
        self._client = client
        self._connections += 1
        self.birth_pending = True
        self._ladder.online(now)
        self._ping.start(self._keepalive * 500)
        self._console.info(
            "mqtt_connected",
            "broker",
            self._broker,
            "client_id",
            self._client_id,
            "reconnects",
            self.reconnects,
        )

    def _restart_radio(self, now: int) -> None:
        self.radio_restarts += 1
        self._console.warn(
            "radio_restart",
            "count",
            self.radio_restarts,
            "offline_s",
            self._ladder.offline_ms(now) // 1000,
            "silent_s",
            self._ladder.silent_ms() // 1000,
        )
        self._close_sockets(self.pool, True)
        try:
            self.radio.enabled = False
            self.radio.enabled = True
        except (OSError, RuntimeError) as exc:
            self.last_error = "radio restart: " + _reason(exc)
            self._console.error("radio_restart_failed", "reason", self.last_error)
        self.pool = self._make_pool(self.radio)
        self._backoff.reset()

    def _drop(self, reason: str) -> None:
        self.last_error = reason
        self._client = None
        self._close_sockets(self.pool, False)
        self._ladder.offline(self._uptime.ms())
        self._console.warn("mqtt_disconnected", "reason", reason)
        if self.birth_pending:
            # A session that never got its birth out is a failed attempt: without this, a
            # broker that accepts connections but never acknowledges would be reconnected
            # to in a tight loop. A session that worked is retried at once.
            self.birth_pending = False
            self._back_off()

    def _sent(self) -> None:
        self._ping.start(self._keepalive * 500)
        self._ladder.answered(self._uptime.ms())

    def publish(self, channel: str, payload: "Union[str, bytes]", retain: bool = False) -> bool:
        """Publish at QoS 1 and wait for the PUBACK; on failure the session is dropped and
        False returned (the caller keeps what it sent). MiniMQTT sends bytes as they are and
        copies a str into bytes first."""
        try:
            self._client.publish(self._topics[channel], payload, retain, 1)
        except (self._mqtt_error, OSError, RuntimeError) as exc:
            reason = _reason(exc)
            self._console.warn(
                "publish_failed", "channel", channel, "bytes", len(payload), "reason", reason
            )
            self._drop("publish on %s failed: %s" % (channel, reason))
            return False
        self._sent()
        return True

    def publish_birth(self) -> bool:
        """The retained birth message, first thing on a new session."""
        if self.publish(STATUS, self._birth, retain=True):
            self.birth_pending = False
            self._backoff.reset()
            self._console.info("birth_published", "topic", self._topics[STATUS])
            return True
        return False

    def ping_due(self) -> bool:
        """True when nothing was sent for half the keep-alive."""
        return self._ping.expired()

    def ping(self) -> bool:
        """A PINGREQ round trip, bounded by ``PING_TIMEOUT_S``."""
        client = self._client
        client.keep_alive = PING_TIMEOUT_S
        try:
            client.ping()
        except (self._mqtt_error, OSError, RuntimeError) as exc:
            self._drop("ping failed: " + _reason(exc))
            return False
        finally:
            client.keep_alive = self._keepalive
        self._sent()
        return True
