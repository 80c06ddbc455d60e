"""Small fakes for the firmware's injected parts: a clock, a radio, a MAX31856, an ADC,
a NeoPixel, nvm, and a broker behind a fake socket pool that the real adafruit_minimqtt
talks to. Time is virtual: a blocking call advances the clock by as long as it would
block on a board, so tests measure worst-case blocking without waiting for it."""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import Any

from adafruit_connection_manager import connection_manager_close_all, get_connection_manager

from sensor_bridge.console.lines import parse_line
from sensor_bridge.virtual.ntp import server_reply

TICKS_PERIOD = 1 << 29
TICKS_START = TICKS_PERIOD - 65_000
"""CircuitPython's ticks_ms starts 65 s before its first wrap."""


class FakeClock:
    """Virtual milliseconds since boot, read through a wrapping ticks counter."""

    def __init__(self) -> None:
        self.ms = 0

    def ticks(self) -> int:
        return (TICKS_START + self.ms) % TICKS_PERIOD

    def advance(self, ms: float) -> None:
        self.ms += max(0, round(ms))

    def sleep(self, seconds: float) -> None:
        self.advance(seconds * 1000)

    def seconds(self) -> float:
        return self.ms / 1000


class FakeBoard:
    """The numbers of a board module that settings need."""

    BOARD_ID = "fake_board"
    DEFAULT_BUFFER_CAPACITY = 1000
    WATCHDOG_MAX_S = 8.0
    WATCHDOG_MIN_S = 8.0


VALID_ENV = {
    "CIRCUITPY_WIFI_SSID": "studio-wifi",
    "CIRCUITPY_WIFI_PASSWORD": "secret-pass",
    "MQTT_BROKER": "127.0.0.1",
    "STUDIO_ID": "studio1",
    "DEVICE_ID": "furnace1",
}
"""The required keys, as strings (what the virtual board's os.getenv returns)."""


class AccessPoint:
    def __init__(self, rssi: int) -> None:
        self.rssi = rssi


class FakeRadio:
    """``wifi.radio``: ``join_ok`` decides whether ``connect`` works; a failing join blocks
    for its timeout, as the real one does on raspberrypi, or ``join_fails_after_s`` whatever
    the timeout (espressif). ``ap_info_raises``: raspberrypi's NotImplementedError."""

    def __init__(self, clock: FakeClock, connected: bool = True) -> None:
        self._clock = clock
        self.connected = connected
        self.join_ok = True
        self.join_fails_after_s: float | None = None
        self.ap_info_raises = False
        self.joins: list[tuple[str, str, float]] = []
        self.toggles: list[bool] = []

    @property
    def ipv4_address(self) -> str | None:
        return "192.168.1.50" if self.connected else None

    @property
    def ap_info(self) -> AccessPoint | None:
        if self.ap_info_raises:
            raise NotImplementedError()
        return AccessPoint(-61) if self.connected else None

    @property
    def enabled(self) -> bool:
        return True

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self.toggles.append(value)
        if not value:
            self.connected = False

    def connect(self, ssid: str, password: str, timeout: float | None = None) -> None:
        self.joins.append((ssid, password, timeout or 0.0))
        if not self.join_ok:
            fails_after = self.join_fails_after_s
            self._clock.sleep((timeout or 0.0) if fails_after is None else fails_after)
            raise ConnectionError("No network with that ssid")
        self._clock.advance(800)
        self.connected = True


def events(lines: list[str]) -> list[tuple[str, dict[str, str]]]:
    """(event, fields) of every console line."""
    out = []
    for line in lines:
        parsed = parse_line(line)
        assert parsed is not None, line
        out.append((parsed[2], parsed[3]))
    return out


# --- a broker behind a fake socket pool ------------------------------------------------


def _remaining_length(data: bytes, index: int) -> tuple[int, int] | None:
    value = 0
    shift = 0
    while index < len(data):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            return value, index
        shift += 7
    return None


def _string(data: bytes, index: int) -> tuple[bytes, int]:
    (size,) = struct.unpack_from("!H", data, index)
    return data[index + 2 : index + 2 + size], index + 2 + size


class Publish:
    def __init__(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8")


class FakeBroker:
    """What the network does, by ``mode``:

    * ``up``: answers everything after ``delay_ms`` (a slow broker when > 0);
    * ``refuse``: TCP connect refused at once (broker down, host up), reported as
      ``reset_errno`` (what lwIP makes of the TCP reset on both ports: ECONNRESET);
    * ``blackhole``: TCP connect gets no answer (host gone): ``connect_timeout_errno``
      (ETIMEDOUT on espressif, EINPROGRESS on raspberrypi);
    * ``silent``: connections open but nothing is ever answered;
    * ``close``: the broker closes every connection once it is open (restart);
    * ``auth``: CONNACK refuses the login (return code 5);
    * ``unavailable``: CONNACK refuses the session (return code 3, server unavailable);
    * ``noack``: connections are accepted but no publish is ever acknowledged.
    """

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.mode = "up"
        self.delay_ms = 0
        self.reset_errno = errno.ECONNRESET
        self.connect_timeout_errno = errno.ETIMEDOUT
        self.received: list[Publish] = []
        self.connects: list[dict[str, Any]] = []
        self.disconnects = 0
        self.pings = 0
        self.sockets: list[FakeSocket] = []

    def publishes(self, topic_suffix: str) -> list[Publish]:
        return [p for p in self.received if p.topic.endswith("/" + topic_suffix)]


class FakeSocket:
    def __init__(self, broker: FakeBroker) -> None:
        self._broker = broker
        self._timeout: float | None = None
        self._out = b""
        self._in: list[tuple[int, bytes]] = []
        self.closed = False
        self.open = False

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def _block(self, number: int = errno.ETIMEDOUT) -> None:
        self._broker.clock.sleep(self._timeout or 0)
        raise OSError(number, errno.errorcode[number])

    def connect(self, address: tuple[str, int]) -> None:
        broker = self._broker
        if broker.mode == "refuse":
            broker.clock.advance(2)
            raise OSError(broker.reset_errno, errno.errorcode[broker.reset_errno])
        if broker.mode == "blackhole":
            self._block(broker.connect_timeout_errno)
        self._broker.clock.advance(2)
        self.open = True

    def send(self, data: Any) -> int:
        if self.closed:
            raise OSError(errno.EBADF, "EBADF")
        if self._broker.mode in ("up", "auth", "unavailable", "noack"):
            # Anything else: the bytes are lost on the way, or the broker is gone.
            self._out += bytes(data)
            self._parse()
        return len(data)

    def recv_into(self, buffer: Any, size: int = 0) -> int:
        size = size or len(buffer)
        clock = self._broker.clock
        if self._broker.mode == "close" and self.open:
            clock.advance(1)  # a closed connection reads 0 bytes at once, again and again
            return 0
        if not self._in or self._broker.mode in ("silent", "blackhole"):
            self._block()
        due, data = self._in[0]
        wait = due - clock.ms
        if wait > (self._timeout or 0) * 1000:
            self._block()
        clock.advance(wait)
        count = min(size, len(data))
        buffer[:count] = data[:count]
        if count == len(data):
            self._in.pop(0)
        else:
            self._in[0] = (due, data[count:])
        return count

    def close(self) -> None:
        self.closed = True

    def _reply(self, data: bytes) -> None:
        self._in.append((self._broker.clock.ms + self._broker.delay_ms, data))

    def _parse(self) -> None:
        while len(self._out) >= 2:
            header = self._out[0]
            length = _remaining_length(self._out, 1)
            if length is None or len(self._out) < length[1] + length[0]:
                return
            size, start = length
            body = self._out[start : start + size]
            self._out = self._out[start + size :]
            self._packet(header, body)

    def _packet(self, header: int, body: bytes) -> None:
        broker = self._broker
        kind = header & 0xF0
        if kind == 0x10:
            flags = body[7]
            keep_alive = struct.unpack_from("!H", body, 8)[0]
            client_id, index = _string(body, 10)
            info: dict[str, Any] = {"client_id": client_id.decode(), "keep_alive": keep_alive}
            if flags & 0x04:
                topic, index = _string(body, index)
                message, index = _string(body, index)
                info["will"] = (topic.decode(), message, (flags >> 3) & 3, bool(flags & 0x20))
            if flags & 0x80:
                user, index = _string(body, index)
                info["user"] = user.decode()
            if flags & 0x40:
                password, index = _string(body, index)
                info["password"] = password.decode()
            broker.connects.append(info)
            code = {"auth": 5, "unavailable": 3}.get(broker.mode, 0)
            self._reply(bytes([0x20, 0x02, 0x00, code]))
        elif kind == 0x30:
            qos = (header >> 1) & 3
            topic, index = _string(body, 0)
            pid = b""
            if qos:
                pid = body[index : index + 2]
                index += 2
            broker.received.append(Publish(topic.decode(), body[index:], qos, bool(header & 1)))
            if qos and broker.mode != "noack":
                self._reply(bytes([0x40, 0x02]) + pid)
        elif kind == 0xC0:
            broker.pings += 1
            self._reply(bytes([0xD0, 0x00]))
        elif kind == 0xE0:
            broker.disconnects += 1


class NtpSocket:
    """A UDP socket to an NTP server that answers from ``wall_s()`` (the virtual board's
    server, RFC 5905), or never while that is None."""

    def __init__(self, clock: FakeClock, wall_s: Callable[[], float | None]) -> None:
        self._clock = clock
        self._wall_s = wall_s
        self._timeout = 0.0
        self._reply = b""

    def __enter__(self) -> NtpSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def settimeout(self, timeout: float) -> None:
        self._timeout = timeout

    def sendto(self, data: Any, address: tuple[str, int]) -> int:
        # 1 ms each way: the server stamps its reply at the middle of the round trip.
        self._clock.advance(1)
        wall = self._wall_s()
        if wall is not None:
            self._reply = server_reply(bytes(data), wall) or b""
        return len(data)

    def recv_into(self, buffer: Any) -> int:
        if not self._reply:
            self._clock.sleep(self._timeout)
            raise OSError(errno.ETIMEDOUT, "ETIMEDOUT")
        self._clock.advance(1)
        buffer[: len(self._reply)] = self._reply
        return len(self._reply)


class FakeSocketPool:
    """``socketpool.SocketPool`` as adafruit_connection_manager, MiniMQTT and the clock's
    SNTP exchange use it; ``ntp_wall_s`` is the NTP server's clock (None: no answer)."""

    AF_INET = 2
    SOCK_STREAM = 1
    SOCK_DGRAM = 2

    def __init__(
        self, broker: FakeBroker, ntp_wall_s: Callable[[], float | None] | None = None
    ) -> None:
        self._broker = broker
        self._ntp_wall_s = ntp_wall_s
        self.forgotten = False

    def getaddrinfo(self, host: str, port: int, *args: Any) -> list[tuple[Any, ...]]:
        return [(self.AF_INET, self.SOCK_STREAM, 0, "", (host, port))]

    def socket(self, family: int = AF_INET, kind: int = SOCK_STREAM) -> Any:
        if kind == self.SOCK_DGRAM:
            return NtpSocket(self._broker.clock, self._ntp_wall_s or (lambda: None))
        sock = FakeSocket(self._broker)
        self._broker.sockets.append(sock)
        return sock


def close_sockets(pool: FakeSocketPool, forget: bool) -> None:
    """What sensor_node.app passes to Link, minus forgetting the pool: a fake pool is not
    in adafruit_connection_manager's radio registry."""
    get_connection_manager(pool)
    connection_manager_close_all(pool)
    pool.forgotten = forget


# --- sensors ---------------------------------------------------------------------------


class FakeMax31856:
    """The driver surface the firmware uses (``sensor_node.max31856.Max31856``);
    conversions take ``conversion_ms``.

    ``faults`` are the SR bits the next conversions report; ``stuck`` keeps 1SHOT set.
    """

    def __init__(self, clock: FakeClock, conversion_ms: int = 250) -> None:
        self._clock = clock
        self.conversion_ms = conversion_ms
        self.temperature = 1100.0
        self.cold_junction = 25.0
        self.faults = 0
        self.stuck = False
        self.started: list[int] = []
        self.clears = 0

    def start(self) -> None:
        self.started.append(self._clock.ms)

    @property
    def converting(self) -> bool:
        return self.stuck or self._clock.ms - self.started[-1] < self.conversion_ms

    def read(self) -> tuple[float, float, int]:
        return self.temperature, self.cold_junction, self.faults

    def clear_faults(self) -> None:
        self.clears += 1


class FakeAdc:
    def __init__(self, values: list[int] | Callable[[], int]) -> None:
        self._values = values
        self._index = 0

    @property
    def value(self) -> int:
        if callable(self._values):
            return self._values()
        value = self._values[self._index % len(self._values)]
        self._index += 1
        return value


class FakePixel(list):
    """A one-pixel NeoPixel strip that records every write."""

    def __init__(self) -> None:
        super().__init__([(0, 0, 0)])
        self.writes: list[tuple[int, int, int]] = []

    def __setitem__(self, index: Any, value: Any) -> None:
        self.writes.append(value)
        super().__setitem__(index, value)


class FakeLed:
    def __init__(self) -> None:
        self.values: list[bool] = []

    @property
    def value(self) -> bool:
        return self.values[-1] if self.values else False

    @value.setter
    def value(self, value: bool) -> None:
        self.values.append(value)


class FakeWatchdog:
    """Records the longest gap between feeds, in virtual ms."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._last = clock.ms
        self.feeds = 0
        self.max_gap_ms = 0

    def feed(self) -> None:
        gap = self._clock.ms - self._last
        self.max_gap_ms = max(self.max_gap_ms, gap)
        self._last = self._clock.ms
        self.feeds += 1
