"""``socketpool``: CircuitPython sockets backed by real ones, obeying ``NetEnvironment``.

The surface is CircuitPython's, not CPython's: ``recv_into``/``recvfrom_into`` but no
``recv``, no ``timeout`` attribute on the pool, errors are plain ``OSError(errno)`` with the
port's numbers (``errnos``): ETIMEDOUT when a read times out, EAGAIN when non-blocking, and
what the port makes of a TCP reset (a refused connect too: lwIP reports ERR_RST) and of a
connect that times out (``families.PortFamily.reset_errno``, ``connect_timeout_errno``). A
peer's close reads as 0 bytes, at most ``MAX_SOCKETS`` open at once (``RuntimeError: Out of
sockets``). Timeouts are virtual seconds. A datagram to port 123 is answered in-process by
the LAN NTP stand-in.
"""

import ipaddress
import select
import socket as _socket
import struct
import threading
import time as _real_time
import types
from collections import deque
from typing import Any

from sensor_bridge.virtual import ntp
from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.errnos import from_host, port_error
from sensor_bridge.virtual.families import PortFamily
from sensor_bridge.virtual.network import OUTAGE_STATES, NetEnvironment

MAX_SOCKETS = 8
SYN_GIVE_UP_S = 75.0
"""A blocking connect into a black hole gives up like a TCP stack does."""
DNS_GIVE_UP_S = 5.0
NTP_PORT = 123

AF_INET, AF_INET6 = 2, 10
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
IPPROTO_IP, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP = 0, 1, 6, 17
IPPROTO_IPV6, IPPROTO_RAW = 41, 255
SOL_SOCKET, SO_REUSEADDR, TCP_NODELAY, IP_MULTICAST_TTL = 0xFFF, 0x0004, 0x01, 5
EAI_NONAME = -2


class gaierror(OSError):
    """Name resolution failed (``SocketPool.gaierror``)."""


class _RealConnection:
    """A real TCP socket the firmware has let go of; ``abort`` resets it (RST, no FIN)."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def abort(self) -> None:
        _abort(self._sock)


def _abort(sock: _socket.socket) -> None:
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Socket:
    """One CircuitPython socket. Blocking by default (timeout None)."""

    def __init__(
        self,
        pool: "SocketPool",
        family: int,
        type: int,
        proto: int,
    ) -> None:
        self._pool = pool
        self._env: NetEnvironment = pool._env
        self._clock: VirtualClock = pool._clock
        self._port: PortFamily = pool._port
        self.family = family
        self.type = type
        self.proto = proto
        self._timeout: float | None = None
        self._real: _socket.socket | None = None
        self._connected = False
        self._closed = False
        self._broken: str | None = None
        """The errno name every later call raises: the connection is gone."""
        self._lost_data = False
        self._ready_since: float | None = None
        self._inbox: deque[tuple[float, bytes, tuple[str, int]]] = deque()
        self._env.register(self)

    # --- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> "Socket":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # The device finalises sockets the program dropped; so do we, quietly.
        if not getattr(self, "_closed", True):
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._env.unregister(self)
        self._inbox.clear()
        real, self._real = self._real, None
        if real is None:
            return
        if self.type == SOCK_STREAM and self._connected:
            if self._env.link() in OUTAGE_STATES:
                self._env.park(_RealConnection(real))
                return
            if self._broken is not None:
                _abort(real)
                return
        real.close()

    def link_changed(self, old: str, new: str) -> None:
        """Told by the environment; decides what the outage did to this connection."""
        if self.type != SOCK_STREAM or not self._connected or self._broken is not None:
            return
        if new == "down":
            self._broken = "ENOTCONN"
        elif new == "refuse":
            self._broken = self._port.reset_errno
        elif old == "blackhole" and self._lost_data:
            self._broken = self._port.reset_errno

    def real_fileno(self) -> int | None:
        real = self._real
        return None if real is None else real.fileno()

    # --- options ----------------------------------------------------------------------

    def settimeout(self, value: float | None) -> None:
        if value is not None and value < 0:
            raise ValueError("Timeout value out of range")
        self._timeout = None if value is None else float(value)

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def setsockopt(self, level: int, optname: int, value: int) -> None:
        self._check_open()

    # --- TCP --------------------------------------------------------------------------

    def connect(self, address: tuple[str, int]) -> None:
        self._check_open()
        if self._connected:
            raise port_error("EISCONN")
        host, port = address
        ip = self._pool._resolve(host)
        if self.type != SOCK_STREAM:
            raise port_error("EOPNOTSUPP")
        deadline = self._deadline()
        while True:
            link = self._env.link()
            if link == "down":
                raise port_error("EHOSTUNREACH")
            if link == "refuse":
                # The host answers the SYN with a reset: lwIP's ERR_RST, whatever the port.
                raise port_error(self._port.reset_errno)
            if link != "blackhole":
                break
            if self._timeout == 0:
                raise port_error(self._port.connect_timeout_errno)
            if deadline is None:
                deadline = self._clock.physical() + SYN_GIVE_UP_S
            self._wait_or_time_out(deadline, timeout_errno=self._port.connect_timeout_errno)
        self._real = self._open_real(ip, port, deadline)
        self._connected = True

    def _open_real(self, ip: str, port: int, deadline: float | None) -> _socket.socket:
        real = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        remaining = None if deadline is None else deadline - self._clock.physical()
        real.settimeout(None if remaining is None else self._clock.real_seconds(remaining))
        try:
            real.connect((ip, port))
        except TimeoutError:
            real.close()
            raise port_error(self._port.connect_timeout_errno) from None
        except ConnectionRefusedError:
            real.close()
            raise port_error(self._port.reset_errno) from None
        except OSError as exc:
            real.close()
            raise from_host(exc) from None
        # Real latency is not scaled by the clock's speed: without this, Nagle's algorithm
        # and the broker's delayed ACK hold MiniMQTT's three-part PUBLISH for ~40 ms real,
        # which at speed 50 is two virtual seconds and times out every PUBACK.
        real.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        real.setblocking(False)
        return real

    def send(self, data: Any) -> int:
        payload = bytes(data)
        real = self._stream()
        if self._env.link() == "blackhole":
            if payload:
                self._lost_data = True
            return len(payload)
        deadline = self._deadline()
        while True:
            self._check_link()
            if select.select([], [real], [], 0)[1]:
                try:
                    return real.send(payload)
                except BlockingIOError:
                    pass
                except OSError as exc:
                    raise from_host(exc) from None
            if self._timeout == 0:
                raise port_error("EAGAIN")
            self._wait_or_time_out(deadline, writable=real)

    def sendall(self, data: Any) -> None:
        view = memoryview(bytes(data))
        while view:
            view = view[self.send(view) :]

    def recv_into(self, buffer: Any, bufsize: int = 0) -> int:
        self._check_open()
        if self.type != SOCK_STREAM:
            return self._recv_datagram(buffer, bufsize)[0]
        real = self._stream()
        size = min(bufsize or len(buffer), len(buffer))
        deadline = self._deadline()
        while True:
            self._check_link()
            link = self._env.link()
            readable = link != "blackhole" and bool(select.select([real], [], [], 0)[0])
            if readable and self._arrived(link):
                try:
                    data = real.recv(size)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise from_host(exc) from None
                buffer[: len(data)] = data
                if not self._more_waiting(real):
                    self._ready_since = None
                return len(data)
            if self._timeout == 0:
                raise port_error("EAGAIN")
            self._wait_or_time_out(deadline, readable=None if readable else real)

    def _arrived(self, link: str) -> bool:
        """With a slow link, data counts as arrived ``delay_s`` after it was first seen."""
        if link != "slow" or self._env.delay_s <= 0:
            return True
        now = self._clock.physical()
        if self._ready_since is None:
            self._ready_since = now
        return now >= self._ready_since + self._env.delay_s

    @staticmethod
    def _more_waiting(real: _socket.socket) -> bool:
        try:
            return bool(real.recv(1, _socket.MSG_PEEK | _socket.MSG_DONTWAIT))
        except OSError:
            return False

    # --- UDP --------------------------------------------------------------------------

    def sendto(self, data: Any, address: tuple[str, int]) -> int:
        self._check_open()
        payload = bytes(data)
        host, port = address
        link = self._env.link()
        if link == "down":
            raise port_error("EHOSTUNREACH")
        ip = self._pool._resolve(host)
        if port == NTP_PORT and self._env.ntp_enabled:
            reply = ntp.server_reply(payload, self._env.wall_clock())
            if reply is not None and link != "blackhole":
                delay = self._env.delay_s if link == "slow" else 0.0
                ready = self._clock.physical() + delay + ntp.SERVER_TURNAROUND_S
                self._inbox.append((ready, reply, (ip, port)))
            return len(payload)
        if link == "blackhole":
            return len(payload)
        try:
            return self._datagram_socket().sendto(payload, (ip, port))
        except OSError as exc:
            raise from_host(exc) from None

    def recvfrom_into(self, buffer: Any, bufsize: int = 0) -> tuple[int, tuple[str, int]]:
        self._check_open()
        return self._recv_datagram(buffer, bufsize)

    def _recv_datagram(self, buffer: Any, bufsize: int) -> tuple[int, tuple[str, int]]:
        size = min(bufsize or len(buffer), len(buffer))
        deadline = self._deadline()
        while True:
            if self._inbox and self._inbox[0][0] <= self._clock.physical():
                _, data, source = self._inbox.popleft()
                buffer[: min(size, len(data))] = data[:size]
                return min(size, len(data)), source
            real = self._real
            if real is not None and self._env.link() not in OUTAGE_STATES:
                if select.select([real], [], [], 0)[0]:
                    try:
                        data, (ip, port) = real.recvfrom(size)
                    except BlockingIOError:
                        continue
                    buffer[: len(data)] = data
                    return len(data), (ip, port)
            if self._timeout == 0:
                raise port_error("EAGAIN")
            wake = self._inbox[0][0] if self._inbox else None
            self._wait_or_time_out(deadline, readable=real, wake_at=wake)

    def _datagram_socket(self) -> _socket.socket:
        if self._real is None:
            self._real = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
            self._real.setblocking(False)
        return self._real

    # --- helpers ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise port_error("EBADF")

    def _stream(self) -> _socket.socket:
        self._check_open()
        if self._real is None or not self._connected:
            raise port_error("ENOTCONN")
        self._check_link()
        return self._real

    def _check_link(self) -> None:
        if self._broken is not None:
            raise port_error(self._broken)

    def _deadline(self) -> float | None:
        if self._timeout is None:
            return None
        return self._clock.physical() + self._timeout

    def _wait_or_time_out(
        self,
        deadline: float | None,
        *,
        readable: _socket.socket | None = None,
        writable: _socket.socket | None = None,
        wake_at: float | None = None,
        timeout_errno: str = "ETIMEDOUT",
    ) -> None:
        """Wait one slice (shorter if something is due); ``timeout_errno`` once past the
        deadline."""
        if deadline is not None and self._clock.physical() >= deadline:
            raise port_error(timeout_errno)
        until = deadline if wake_at is None or deadline is None else min(deadline, wake_at)
        if until is None:
            until = wake_at
        wait = self._clock.wait_slice(until)
        if readable is None and writable is None:
            _real_time.sleep(wait)
            return
        select.select(
            [readable] if readable is not None else [],
            [writable] if writable is not None else [],
            [],
            wait,
        )


class SocketPool:
    AF_INET, AF_INET6 = AF_INET, AF_INET6
    SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = SOCK_STREAM, SOCK_DGRAM, SOCK_RAW
    IPPROTO_IP, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP = (
        IPPROTO_IP,
        IPPROTO_ICMP,
        IPPROTO_TCP,
        IPPROTO_UDP,
    )
    IPPROTO_IPV6, IPPROTO_RAW = IPPROTO_IPV6, IPPROTO_RAW
    SOL_SOCKET, SO_REUSEADDR, TCP_NODELAY = SOL_SOCKET, SO_REUSEADDR, TCP_NODELAY
    IP_MULTICAST_TTL, EAI_NONAME = IP_MULTICAST_TTL, EAI_NONAME
    gaierror = gaierror

    _env: NetEnvironment
    _clock: VirtualClock
    _port: PortFamily

    def __init__(self, radio: object) -> None:
        if type(radio).__name__ != "Radio":
            raise TypeError("SocketPool needs wifi.radio")
        self._radio = radio
        self._lock = threading.Lock()

    def socket(
        self,
        family: int = AF_INET,
        type: int = SOCK_STREAM,
        proto: int = IPPROTO_IP,
    ) -> Socket:
        if family != AF_INET:
            raise port_error("EAFNOSUPPORT")
        if type not in (SOCK_STREAM, SOCK_DGRAM):
            raise port_error("EPROTOTYPE")
        with self._lock:
            if self._env.open_count() >= MAX_SOCKETS:
                raise RuntimeError("Out of sockets")
            return Socket(self, family, type, proto)

    # CircuitPython's own signature, positional parameters included
    # (shared-bindings/socketpool/SocketPool.c).
    def getaddrinfo(  # noqa: PLR0917
        self,
        host: str,
        port: int,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[int, int, int, str, tuple[str, int]]]:
        ip = self._resolve(host)
        return [(AF_INET, type or SOCK_STREAM, proto, "", (ip, int(port)))]

    def _resolve(self, host: str) -> str:
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            pass
        link = self._env.link()
        if link == "blackhole":
            self._clock.sleep(DNS_GIVE_UP_S)
        if link in OUTAGE_STATES:
            raise gaierror(EAI_NONAME, "Name or service not known")
        try:
            infos = _socket.getaddrinfo(host, None, _socket.AF_INET)
        except OSError:
            raise gaierror(EAI_NONAME, "Name or service not known") from None
        return str(infos[0][4][0])


def build_socketpool(
    env: NetEnvironment, clock: VirtualClock, port: PortFamily
) -> types.ModuleType:
    module = types.ModuleType("socketpool", "Sockets on the board's network (virtual board).")
    bound: dict[str, Any] = {
        "_env": env,
        "_clock": clock,
        "_port": port,
        "__module__": "socketpool",
    }
    pool_class = type("SocketPool", (SocketPool,), bound)
    module.__dict__.update(SocketPool=pool_class, Socket=Socket)
    return module
