"""A server that refuses every MQTT login with a CONNACK return code: what a broker that is
up but turns the node away says (MQTT 3.1.1 section 3.2.2.3: 1 unacceptable protocol
version, 2 identifier rejected, 3 server unavailable, 4 bad user name or password, 5 not
authorized). Mosquitto itself sends 5 for a wrong password; 1 to 3 need this stand-in."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

CONNECT = 0x10
CONNACK = 0x20


def _read_packet(conn: socket.socket) -> int | None:
    """The type byte of the next MQTT packet, its body read and dropped; None at EOF."""
    first = conn.recv(1)
    if not first:
        return None
    length, shift = 0, 0
    while True:
        byte = conn.recv(1)
        if not byte:
            return None
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    while length:
        chunk = conn.recv(length)
        if not chunk:
            return None
        length -= len(chunk)
    return first[0] & 0xF0


@contextlib.contextmanager
def refusing_logins(port: int, code: int) -> Iterator[list[int]]:
    """Listen on 127.0.0.1:``port`` and answer every CONNECT with CONNACK ``code``, then close;
    yields the codes sent so far."""
    sent: list[int] = []
    stop = threading.Event()
    server = socket.create_server(("127.0.0.1", port))
    server.settimeout(0.2)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    if _read_packet(conn) == CONNECT:
                        conn.sendall(bytes([CONNACK, 2, 0, code]))
                        sent.append(code)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, name=f"connack-{code}", daemon=True)
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join(5)
        server.close()
