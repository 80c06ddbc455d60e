"""A recording TCP relay on loopback: what a sniffer on the LAN would capture between a client
and a server. Each accepted connection is piped to ``target`` both ways; every byte seen is
kept in ``recorded``."""

from __future__ import annotations

import socket
import threading
from typing import Self


class RecordingRelay:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    @property
    def recorded(self) -> bytes:
        with self._lock:
            return b"".join(self._chunks)

    def __enter__(self) -> Self:
        self._start(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()
        for sock in self._sockets:
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                # What a client sees when the server refuses it: the connection closes.
                client.close()
                continue
            self._sockets += [client, server]
            self._start(self._pipe, client, server)
            self._start(self._pipe, server, client)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self._lock:
                self._chunks.append(data)
            try:
                sink.sendall(data)
            except OSError:
                return
