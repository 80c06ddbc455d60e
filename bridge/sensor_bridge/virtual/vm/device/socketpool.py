"""``socketpool`` (shared-bindings/socketpool/*.c): CircuitPython's sockets on the VM's own
``socket`` module, so TCP to the broker is real, with the errors the board's port raises.

The network state the host pushes (``_vboard.link``, as ``NetEnvironment`` describes it)
decides what the radio would see:

* ``down``: connects fail with EHOSTUNREACH (lwIP ERR_RTE; raspberrypi Socket.c
  error_lookup_table), connected sockets raise ENOTCONN, names do not resolve.
* ``blackhole``: connects wait for their timeout and raise the family's
  ``connect_timeout_errno`` (raspberrypi: EINPROGRESS, espressif: ETIMEDOUT), sends vanish,
  receives time out; a socket that lost data is reset when the hole closes.
* ``refuse``: connects and connected sockets fail with the family's ``reset_errno``: a port
  answers a SYN with a RST, which lwIP reports as ERR_RST (ECONNRESET), never ECONNREFUSED.
  The same mapping applies to a real refusal (the broker's port closed).
* ``slow``: data arrives ``delay_s`` late.

A receive that times out raises ETIMEDOUT, a non-blocking one EAGAIN, and a peer's close
reads as 0 bytes (raspberrypi Socket.c lwip_tcp_receive; espressif Socket.c). A socket
closed during an outage sends nothing until the link is back, then a RST, as the board's
TCP state would reach the broker. Datagrams to port 123 go to the host's NTP stand-in.
At most as many sockets as the port's lwIP allows (``Out of sockets``).
"""

import errno
import select
import socket as _socket
import struct

import _vboard
from _vboard import config

AF_INET = 2
AF_INET6 = 10
SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
IPPROTO_IP = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPV6 = 41
IPPROTO_RAW = 255
SOL_SOCKET = 0xFFF
SO_REUSEADDR = 0x0004
TCP_NODELAY = 1
IP_MULTICAST_TTL = 5
EAI_NONAME = -2
NTP_PORT = 123
SYN_GIVE_UP_S = 75
DNS_GIVE_UP_S = 5
SLICE_MS = 50
"""Longest wait in one piece: a pushed network change takes effect this fast."""
_OUTAGES = ("down", "blackhole")
_open = []
_parked = []


class gaierror(OSError):
    """A name did not resolve."""


def _abort(real):
    """Close with a RST rather than a FIN (SO_LINGER 0)."""
    try:
        real.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    real.close()


def _link_changed(old, new):
    for sock in _open:
        sock._link_changed(old, new)
    if new not in _OUTAGES:
        while _parked:
            _abort(_parked.pop())


_vboard.on_link = _link_changed


def _resolve(host):
    parts = host.split(".")
    if len(parts) == 4 and all(part.isdigit() for part in parts):
        return host
    if _vboard.link == "blackhole":
        _vboard.wait(DNS_GIVE_UP_S)
    if _vboard.link in _OUTAGES:
        raise gaierror(EAI_NONAME, "Name or service not known")
    try:
        address = _socket.getaddrinfo(host, 0)[0][-1]
    except OSError:
        raise gaierror(EAI_NONAME, "Name or service not known") from None
    return "%d.%d.%d.%d" % tuple(address[4:8])


class Socket:
    def __init__(self, family, type, proto):
        self.family = family
        self.type = type
        self.proto = proto
        self._timeout = None
        self._real = None
        self._poller = None
        self._connected = False
        self._closed = False
        self._broken = None
        self._lost = False
        self._seen_ms = None
        self._ntp_server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._closed:
            return
        self._closed = True
        _open.remove(self)
        real = self._real
        self._real = None
        if real is None:
            return
        if self.type == SOCK_STREAM and self._connected:
            if _vboard.link in _OUTAGES:
                _parked.append(real)
                return
            if self._broken is not None:
                _abort(real)
                return
        real.close()

    def _link_changed(self, old, new):
        if self.type != SOCK_STREAM or not self._connected or self._broken is not None:
            return
        if new == "down":
            self._broken = errno.ENOTCONN
        elif new == "refuse" or (old == "blackhole" and self._lost):
            self._broken = config["reset_errno"]

    def settimeout(self, value):
        if value is not None and value < 0:
            raise ValueError("Timeout value out of range")
        self._timeout = value

    def setblocking(self, flag):
        self._timeout = None if flag else 0

    def setsockopt(self, level, optname, value):
        self._check_open()

    # The VM's ssl looks these up when it wraps a socket (shared-module/ssl/SSLSocket.c,
    # common_hal_ssl_sslcontext_wrap_socket); the firmware never serves.
    def bind(self, address):
        raise NotImplementedError("the virtual board has no server sockets")

    def listen(self, backlog):
        raise NotImplementedError("the virtual board has no server sockets")

    def accept(self):
        raise NotImplementedError("the virtual board has no server sockets")

    # --- TCP ------------------------------------------------------------------------

    def connect(self, address):
        self._check_open()
        if self._connected:
            raise OSError(errno.EISCONN)
        host, port = address
        ip = _resolve(host)
        if self.type != SOCK_STREAM:
            self._ntp_server = (ip, port)
            return
        self._wait_for_link()
        real = _socket.socket()
        if self._timeout is not None:
            real.settimeout(self._timeout)
        try:
            real.connect(_socket.getaddrinfo(ip, port)[0][-1])
        except OSError as exc:
            real.close()
            code = exc.errno
            if code == errno.ECONNREFUSED:
                code = config["reset_errno"]
            elif code in (errno.ETIMEDOUT, errno.EINPROGRESS, errno.EAGAIN):
                code = config["connect_timeout_errno"]
            raise OSError(code) from None
        real.setblocking(False)
        self._real = real
        self._poller = select.poll()
        self._poller.register(real, select.POLLIN)
        self._poller.register(_vboard._stream, select.POLLIN)
        self._connected = True

    def _wait_for_link(self):
        """Until the link lets a SYN through; the port's error when it will not."""
        deadline = self._deadline()
        while True:
            _vboard.poll()
            link = _vboard.link
            if link == "down":
                raise OSError(errno.EHOSTUNREACH)
            if link == "refuse":
                raise OSError(config["reset_errno"])
            if link != "blackhole":
                return
            if self._timeout == 0:
                raise OSError(errno.EINPROGRESS)
            if deadline is None:
                deadline = _vboard.ticks_ms() + SYN_GIVE_UP_S * 1000
            left = _vboard.ticks_diff(deadline, _vboard.ticks_ms())
            if left <= 0:
                raise OSError(config["connect_timeout_errno"])
            _vboard.wait(min(left, SLICE_MS) / 1000)

    def send(self, data):
        real = self._stream()
        if _vboard.link == "blackhole":
            if len(data):
                self._lost = True
            return len(data)
        deadline = self._deadline()
        while True:
            try:
                return real.send(data)
            except OSError as exc:
                if exc.errno != errno.EAGAIN:
                    raise
            self._wait(deadline, False)
            self._check_link()

    def recv_into(self, buffer, bufsize=0):
        self._check_open()
        size = bufsize or len(buffer)
        if size > len(buffer):
            raise ValueError("buffer too small")
        if self.type != SOCK_STREAM:
            return self._receive_datagram(buffer, size)
        real = self._stream()
        deadline = self._deadline()
        while True:
            link = _vboard.link
            if link != "blackhole" and self._arrived(link):
                try:
                    count = real.recv_into(buffer, size)
                except OSError as exc:
                    if exc.errno != errno.EAGAIN:
                        raise
                else:
                    self._seen_ms = None
                    return count
            self._wait(deadline, link != "blackhole")
            self._check_link()

    def _arrived(self, link):
        """On a slow link, data counts as arrived ``delay_s`` after it was first seen."""
        if link != "slow" or _vboard.delay_s <= 0:
            return True
        if not self._readable():
            return False
        now = _vboard.ticks_ms()
        if self._seen_ms is None:
            self._seen_ms = now
        return _vboard.ticks_diff(now, self._seen_ms) >= _vboard.delay_s * 1000

    # --- UDP (NTP) ------------------------------------------------------------------

    def sendto(self, data, address):
        self._check_open()
        host, port = address
        if _vboard.link == "down":
            raise OSError(errno.EHOSTUNREACH)
        ip = _resolve(host)
        if self._real is None:
            self._real = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
            self._real.setblocking(False)
            self._poller = select.poll()
            self._poller.register(self._real, select.POLLIN)
        if port == NTP_PORT:
            self._ntp_server = (ip, port)
            ip, port = "127.0.0.1", config["ntp_port"]
        elif _vboard.link == "blackhole":
            return len(data)
        return self._real.sendto(data, _socket.getaddrinfo(ip, port)[0][-1])

    def recvfrom_into(self, buffer, bufsize=0):
        self._check_open()
        count = self._receive_datagram(buffer, bufsize or len(buffer))
        return count, self._ntp_server

    def _receive_datagram(self, buffer, size):
        real = self._real
        deadline = self._deadline()
        while True:
            if real is not None:
                try:
                    data = real.recv(size)
                except OSError as exc:
                    if exc.errno != errno.EAGAIN:
                        raise
                else:
                    buffer[: len(data)] = data
                    return len(data)
            self._wait(deadline, real is not None)

    # --- helpers --------------------------------------------------------------------

    def _check_open(self):
        if self._closed:
            raise OSError(errno.EBADF)

    def _stream(self):
        self._check_open()
        if not self._connected:
            raise OSError(errno.ENOTCONN)
        _vboard.poll()
        self._check_link()
        return self._real

    def _check_link(self):
        if self._broken is not None:
            raise OSError(self._broken)

    def _deadline(self):
        if self._timeout is None:
            return None
        return _vboard.ticks_ms() + int(self._timeout * 1000)

    def _readable(self):
        for entry in self._poller.poll(0):
            if entry[0] is not _vboard._stream:
                return True
        return False

    def _wait(self, deadline, for_data):
        """Wait one slice for data (``for_data``) or a pushed change; ETIMEDOUT once past the
        deadline, EAGAIN at once when non-blocking."""
        if self._timeout == 0:
            raise OSError(errno.EAGAIN)
        left = SLICE_MS
        if deadline is not None:
            left = _vboard.ticks_diff(deadline, _vboard.ticks_ms())
            if left <= 0:
                raise OSError(errno.ETIMEDOUT)
            left = min(left, SLICE_MS)
        if for_data and self._poller is not None and _vboard.link != "slow":
            self._poller.poll(left)
            _vboard.poll()
        else:
            _vboard.wait(left / 1000)


class SocketPool:
    AF_INET = AF_INET
    AF_INET6 = AF_INET6
    SOCK_STREAM = SOCK_STREAM
    SOCK_DGRAM = SOCK_DGRAM
    SOCK_RAW = SOCK_RAW
    IPPROTO_IP = IPPROTO_IP
    IPPROTO_ICMP = IPPROTO_ICMP
    IPPROTO_TCP = IPPROTO_TCP
    IPPROTO_UDP = IPPROTO_UDP
    IPPROTO_IPV6 = IPPROTO_IPV6
    IPPROTO_RAW = IPPROTO_RAW
    SOL_SOCKET = SOL_SOCKET
    SO_REUSEADDR = SO_REUSEADDR
    TCP_NODELAY = TCP_NODELAY
    IP_MULTICAST_TTL = IP_MULTICAST_TTL
    EAI_NONAME = EAI_NONAME
    gaierror = gaierror

    def __init__(self, radio):
        if type(radio).__name__ != "Radio":
            raise ValueError("SocketPool can only be used with wifi.radio")

    def socket(self, family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_IP):
        if family != AF_INET:
            raise NotImplementedError("Only IPv4 sockets supported")
        kind = "tcp" if type == SOCK_STREAM else "udp"
        same = [sock for sock in _open if (sock.type == SOCK_STREAM) == (kind == "tcp")]
        if len(same) >= config["max_" + kind] or len(_open) >= config["max_sockets"]:
            raise RuntimeError("Out of sockets")
        sock = Socket(family, type, proto)
        _open.append(sock)
        return sock

    # CircuitPython's own signature, positional parameters included
    # (shared-bindings/socketpool/SocketPool.c).
    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: PLR0917
        return [(AF_INET, type or SOCK_STREAM, proto, "", (_resolve(host), port))]
