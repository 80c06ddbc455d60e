"""A stand-in for Grafana Cloud's Prometheus remote-write endpoint: it decodes what arrives and
records it, in arrival order.

The protocol (https://prometheus.io/docs/specs/prw/remote_write_spec/): a POST whose body is a
``prometheus.WriteRequest`` protobuf (field 1: repeated TimeSeries; TimeSeries field 1: repeated
Label {1: name, 2: value}, field 2: repeated Sample {1: double value, 2: int64 timestamp ms}),
compressed in snappy's block format (https://github.com/google/snappy/blob/main/format_description.txt:
a varint length, then literal elements and copies with 1-, 2- or 4-byte offsets). Both decoders
are written here from those documents, so that a sender's real compression (copies included) is
read, not only the literal-only blocks ``sensor_bridge.local.remote_write`` writes. It answers
204 like Mimir, 401 without the expected basic auth, 400 to a body it cannot decode.
"""

from __future__ import annotations

import base64
import http.server
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True)
class Sample:
    name: str
    labels: frozenset[tuple[str, str]]
    """Every label but ``__name__``."""
    timestamp_ms: int
    value: float


def snappy_decompress(block: bytes) -> bytes:
    """A snappy block (the raw format) decompressed."""
    length, position = _read_varint(block, 0)
    out = bytearray()
    while position < len(block):
        tag = block[position]
        position += 1
        kind = tag & 0x03
        if kind == 0:  # literal
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(block[position : position + extra], "little")
                position += extra
            size += 1
            out += block[position : position + size]
            position += size
            continue
        if kind == 1:  # copy, 1-byte offset
            size = ((tag >> 2) & 0x07) + 4
            offset = ((tag >> 5) << 8) | block[position]
            position += 1
        else:  # copy, 2- or 4-byte offset
            size = (tag >> 2) + 1
            width = 2 if kind == 2 else 4
            offset = int.from_bytes(block[position : position + width], "little")
            position += width
        if offset == 0 or offset > len(out):
            raise ValueError(f"snappy copy offset {offset} outside the {len(out)} bytes so far")
        for _ in range(size):  # byte by byte: a copy may overlap what it writes
            out.append(out[-offset])
    if len(out) != length:
        raise ValueError(f"snappy block says {length} bytes, holds {len(out)}")
    return bytes(out)


def decode_write_request(body: bytes) -> list[Sample]:
    """Every sample of a ``WriteRequest``, in the order it holds them."""
    samples = []
    for number, series in _fields(body):
        if number != 1:
            continue
        labels: dict[str, str] = {}
        points: list[tuple[int, float]] = []
        for field, payload in _fields(_bytes(series)):
            if field == 1:
                pair = {n: v for n, v in _fields(_bytes(payload))}
                labels[bytes(pair[1]).decode()] = bytes(pair.get(2, b"")).decode()
            elif field == 2:
                point = {n: v for n, v in _fields(_bytes(payload))}
                (value,) = struct.unpack("<d", bytes(point.get(1, bytes(8))))
                points.append((_signed(int(point.get(2, 0))), value))
        name = labels.pop("__name__")
        samples += [Sample(name, frozenset(labels.items()), t, v) for t, v in points]
    return samples


def _bytes(value: bytes | int) -> bytes:
    if isinstance(value, int):
        raise ValueError("a message field holds a number where a message belongs")
    return value


def _fields(message: bytes) -> Iterator[tuple[int, bytes | int]]:
    position = 0
    while position < len(message):
        key, position = _read_varint(message, position)
        number, wire = key >> 3, key & 0x07
        if wire == _VARINT:
            value, position = _read_varint(message, position)
            yield number, value
        elif wire == _FIXED64:
            yield number, message[position : position + 8]
            position += 8
        elif wire == _LENGTH_DELIMITED:
            size, position = _read_varint(message, position)
            yield number, message[position : position + size]
            position += size
        elif wire == _FIXED32:
            yield number, message[position : position + 4]
            position += 4
        else:
            raise ValueError(f"protobuf wire type {wire} is not used by remote write")


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def _signed(value: int) -> int:
    """int64 as protobuf's varint carries it (two's complement in 64 bits)."""
    return value - (1 << 64) if value >= 1 << 63 else value


class CloudStandIn:
    """Listens on 127.0.0.1:``port`` (0: any free one) once started; ``samples`` as they came."""

    def __init__(self, user: str, token: str, port: int = 0) -> None:
        self.samples: list[Sample] = []
        self.requests = 0
        self._expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        self._port = port
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/prom/push"

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._port

    def start(self) -> CloudStandIn:
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Authorization") != standin._expected:
                    self.send_response(401)
                elif self.headers.get("Content-Encoding") != "snappy":
                    self.send_response(415)
                else:
                    try:
                        samples = decode_write_request(snappy_decompress(body))
                    except (ValueError, IndexError, KeyError, struct.error):
                        self.send_response(400)
                    else:
                        with standin._lock:
                            standin.samples += samples
                            standin.requests += 1
                        self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._port = self._server.server_address[1]
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)

    def __enter__(self) -> CloudStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
