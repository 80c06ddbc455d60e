"""The Prometheus remote-write protocol, as Vector's ``prometheus_remote_write`` sink sends it:
the sending side, for the forwarder's sinks and for tests that write series directly.

A ``WriteRequest`` protobuf, snappy-compressed, POSTed with the protocol's headers. Both are
small enough to write by hand: the protobuf is three nested messages, and a snappy block made
of literal elements only is valid snappy (the receiver just copies the bytes), so no new
dependency is needed.
"""

from __future__ import annotations

import base64
import struct
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
_LENGTH_DELIMITED = 2
_FIXED64 = 1
_VARINT = 0
_SNAPPY_MAX_LITERAL = 65536


@dataclass(frozen=True)
class Series:
    """One series: its labels (``__name__`` included) and ``(timestamp_ms, value)`` samples."""

    labels: Mapping[str, str]
    samples: Sequence[tuple[int, float]]


def write(
    url: str,
    series: Sequence[Series],
    timeout: float = 10.0,
    auth: tuple[str, str] | None = None,
) -> int:
    """POST ``series`` to a remote-write endpoint (e.g. ``.../api/v1/write``); the HTTP status.
    ``auth``: HTTP basic user and password (Grafana Cloud's user and token)."""
    body = snappy_block(write_request(series))
    headers = dict(HEADERS)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        status: int = response.status
        return status


def write_request(series: Sequence[Series]) -> bytes:
    """The ``prometheus.WriteRequest`` protobuf of ``series``."""
    return b"".join(_field(1, _LENGTH_DELIMITED, _time_series(s)) for s in series)


def _time_series(series: Series) -> bytes:
    labels = b"".join(
        _field(
            1,
            _LENGTH_DELIMITED,
            _field(1, _LENGTH_DELIMITED, name.encode())
            + _field(2, _LENGTH_DELIMITED, value.encode()),
        )
        for name, value in sorted(series.labels.items())
    )
    samples = b"".join(
        _field(
            2,
            _LENGTH_DELIMITED,
            _field(1, _FIXED64, struct.pack("<d", value)) + _field(2, _VARINT, _varint(timestamp)),
        )
        for timestamp, value in series.samples
    )
    return labels + samples


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    key = _varint(number << 3 | wire_type)
    if wire_type == _LENGTH_DELIMITED:
        return key + _varint(len(payload)) + payload
    return key + payload


def _varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("negative varints are not needed here")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def snappy_block(data: bytes) -> bytes:
    """``data`` as a snappy block (the raw format, not the framed one) of literal elements."""
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), _SNAPPY_MAX_LITERAL):
        chunk = data[start : start + _SNAPPY_MAX_LITERAL]
        size = len(chunk) - 1
        if size < 60:
            out.append(size << 2)
        elif size < 256:
            out += bytes([60 << 2, size])
        else:
            out += bytes([61 << 2]) + size.to_bytes(2, "little")
        out += chunk
    return bytes(out)
