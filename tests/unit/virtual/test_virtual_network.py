"""wifi/socketpool over real sockets, with each injected network fault, and the NTP stand-in.

Errors carry the port's errno numbers (``families.ERRNO``), not the host's."""

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.families import ERRNO, ESPRESSIF, PortFamily
from sensor_bridge.virtual.network import NetEnvironment
from sensor_bridge.virtual.sockets import MAX_SOCKETS, build_socketpool
from sensor_bridge.virtual.wifi import Radio
from sensor_node.clock import sntp_offset_ms
from sensor_node.timing import Uptime
from tests.unit.virtual.rig import EchoServer

SPEED = 20.0
WALL_AT_ZERO = 1_767_225_600.0


class Net:
    def __init__(self, family: PortFamily = ESPRESSIF) -> None:
        self.clock = VirtualClock(speed=SPEED)
        self.env = NetEnvironment(lambda: WALL_AT_ZERO + self.clock.physical())
        self.radio = Radio(self.env, self.clock, random.Random(1), family)
        self.radio.connect("studio", "furnace-pass")
        self.pool: Any = build_socketpool(self.env, self.clock, family).SocketPool(self.radio)
        self.server = EchoServer()
        self.sockets: list[Any] = []

    def connected(self, timeout: float = 2.0) -> Any:
        sock = self.pool.socket(self.pool.AF_INET, self.pool.SOCK_STREAM)
        self.sockets.append(sock)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", self.server.port))
        return sock

    def echo(self, sock: Any, payload: bytes) -> bytes:
        assert sock.send(payload) == len(payload)
        buf = bytearray(64)
        n = sock.recv_into(buf)
        return bytes(buf[:n])


@pytest.fixture
def net() -> Iterator[Net]:
    rig = Net()
    yield rig
    rig.env.set_state("up")
    for sock in rig.sockets:
        sock.close()
    rig.server.close()


def errno_of(excinfo: pytest.ExceptionInfo[OSError]) -> int | None:
    error = excinfo.value
    assert type(error).__name__ == "OSError", "CircuitPython raises plain OSError"
    assert not isinstance(error, TimeoutError | ConnectionError)
    return error.errno


def test_up_talks_to_the_real_server(net: Net) -> None:
    sock = net.connected()
    assert net.echo(sock, b"hello") == b"hello"
    assert not hasattr(sock, "recv"), "CircuitPython sockets only have recv_into"
    assert not hasattr(net.pool, "timeout"), "minimqtt must take the socketpool path"
    sock.close()
    assert net.server.wait_end() == "eof"


def test_timeouts_are_virtual_seconds(net: Net) -> None:
    sock = net.connected(timeout=2.0)
    started, real = net.clock.physical(), time.monotonic()
    with pytest.raises(OSError) as excinfo:
        sock.recv_into(bytearray(4))
    assert errno_of(excinfo) == ERRNO["ETIMEDOUT"]
    assert net.clock.physical() - started >= 2.0
    assert time.monotonic() - real < 1.0
    sock.settimeout(0)
    with pytest.raises(OSError) as excinfo:
        sock.recv_into(bytearray(4))
    assert errno_of(excinfo) == ERRNO["EAGAIN"]


def test_refuse_refuses_and_resets(net: Net) -> None:
    sock = net.connected()
    net.env.set_state("refuse")
    with pytest.raises(OSError) as excinfo:
        net.connected()
    assert errno_of(excinfo) == ERRNO["ECONNRESET"], "lwIP reports a refusal as ERR_RST"
    with pytest.raises(OSError) as excinfo:
        sock.recv_into(bytearray(4))
    assert errno_of(excinfo) == ERRNO["ECONNRESET"]
    sock.close()
    assert net.server.wait_end() == "reset"


def test_down_drops_the_radio_and_the_connections(net: Net) -> None:
    sock = net.connected()
    net.env.set_state("down")
    assert not net.radio.connected
    assert net.radio.ipv4_address is None and net.radio.ap_info is None
    with pytest.raises(OSError) as excinfo:
        sock.send(b"x")
    assert errno_of(excinfo) == ERRNO["ENOTCONN"]
    with pytest.raises(OSError) as excinfo:
        net.connected()
    assert errno_of(excinfo) == ERRNO["EHOSTUNREACH"]
    with pytest.raises(net.pool.gaierror):
        net.pool.getaddrinfo("localhost", 1883)
    assert net.pool.getaddrinfo("127.0.0.1", 1883)[0][4] == ("127.0.0.1", 1883)

    sock.close()
    assert net.server.wait_end(0.2) is None, "nothing reaches the broker during the outage"
    net.env.set_state("up")
    assert net.server.wait_end() == "reset", "the stale connection is reset once back"
    assert net.radio.connected, "the radio rejoins by itself"
    assert net.echo(net.connected(), b"again") == b"again"


def test_blackhole_hangs_connects_and_swallows_data(net: Net) -> None:
    quiet = net.connected()
    talker = net.connected()
    net.env.set_state("blackhole")
    started = net.clock.physical()
    with pytest.raises(OSError) as excinfo:
        net.connected(timeout=3.0)
    assert errno_of(excinfo) == ERRNO["ETIMEDOUT"]
    assert net.clock.physical() - started >= 3.0
    assert net.radio.connected, "the access point is still there"

    assert talker.send(b"lost") == 4
    with pytest.raises(OSError) as excinfo:
        talker.recv_into(bytearray(4))
    assert errno_of(excinfo) == ERRNO["ETIMEDOUT"]
    net.env.set_state("up")
    assert bytes(net.server.received) == b""
    with pytest.raises(OSError) as excinfo:
        talker.recv_into(bytearray(4))
    assert errno_of(excinfo) == ERRNO["ECONNRESET"], "its stream lost bytes"
    assert net.echo(quiet, b"fine") == b"fine", "a connection that lost nothing survives"


def test_slow_delays_what_arrives(net: Net) -> None:
    sock = net.connected(timeout=1.0)
    net.env.set_state("slow", delay_s=2.0)
    started = net.clock.physical()
    sock.send(b"ping")
    with pytest.raises(OSError) as excinfo:
        sock.recv_into(bytearray(8))
    assert errno_of(excinfo) == ERRNO["ETIMEDOUT"]
    sock.settimeout(5.0)
    buf = bytearray(8)
    assert sock.recv_into(buf) == 4 and buf[:4] == b"ping"
    assert net.clock.physical() - started >= 2.0


def test_out_of_sockets(net: Net) -> None:
    sockets = [net.pool.socket() for _ in range(MAX_SOCKETS)]
    with pytest.raises(RuntimeError, match="Out of sockets"):
        net.pool.socket()
    sockets[0].close()
    net.pool.socket().close()
    for sock in sockets:
        sock.close()


def test_wifi_connect_fails_without_access_point(net: Net) -> None:
    net.radio.enabled = False
    assert not net.radio.connected
    net.radio.enabled = True
    net.env.set_state("down")
    started = net.clock.physical()
    with pytest.raises(ConnectionError):
        net.radio.connect("studio", "furnace-pass", timeout=4.0)
    assert net.clock.physical() - started >= ESPRESSIF.wifi_connect_unbounded_s
    with pytest.raises(ValueError, match="password length"):
        net.radio.connect("studio", "short")
    net.env.set_state("up")
    net.radio.connect("studio", "furnace-pass")
    assert net.radio.connected and net.radio.ap_info is not None
    assert -70 < net.radio.ap_info.rssi < -50


def uptime_of(net: Net) -> Uptime:
    return Uptime(lambda: int(net.clock.physical() * 1000) % (1 << 29))


def test_the_firmwares_sntp_exchange_reads_the_stand_ins_wall_clock(net: Net) -> None:
    uptime = uptime_of(net)
    offset = sntp_offset_ms(net.pool, "127.0.0.1", 123, 1.0, uptime)
    expected_ms = (WALL_AT_ZERO + net.clock.physical()) * 1000 - uptime.ms()
    assert offset == pytest.approx(expected_ms, abs=50)


def test_ntp_disabled_or_blackholed_times_out(net: Net) -> None:
    net.env.ntp_enabled = False
    with pytest.raises(OSError) as excinfo:
        sntp_offset_ms(net.pool, "127.0.0.1", 123, 0.5, uptime_of(net))
    assert errno_of(excinfo) == ERRNO["ETIMEDOUT"]
    net.env.ntp_enabled = True
    net.env.set_state("blackhole")
    with pytest.raises(OSError):
        sntp_offset_ms(net.pool, "127.0.0.1", 123, 0.5, uptime_of(net))
