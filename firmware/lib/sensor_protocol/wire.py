"""
`sensor_protocol.wire`
================================================================================
The part of the contract the device runs, and nothing else: the numbers it enforces (fault
bits, valid ranges) and the payload encoders. Every number is written here once; the host's
modules build on these names (``fields`` makes its table from them, ``payloads`` re-exports
the encoders next to its decoders). The device imports neither ``fields`` nor ``payloads``:
their tables, help texts and validation would cost a Pico W about 13 kB of RAM.

A reading row is ``(seq, up_ms, t, *values, faults)`` in the order of
``fields.READING_FIELDS``. The encoder (like ``sensor_node.ring_buffer``) treats every
measured value alike, so a new one changes only ``READING_TEMPLATE`` here; the device cannot
read the table, so tests/unit/protocol/test_protocol_layout.py derives the template from it
and fails with the line to write when they differ.
"""

import json

from sensor_protocol import SCHEMA_MINOR, SCHEMA_VERSION
from sensor_protocol.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES

try:
    from typing import Any, Dict, Iterable, List, Sequence, Tuple
except ImportError:
    pass

# (name, bit): the bits of the MAX31856's fault status register (SR, 0Fh), which the firmware
# publishes as it reads them, plus one bit of our own for a conversion that missed its
# deadline.
FAULT_BITS = (
    ("open_tc", 0x01),
    ("voltage", 0x02),
    ("tc_low", 0x04),
    ("tc_high", 0x08),
    ("cj_low", 0x10),
    ("cj_high", 0x20),
    ("tc_range", 0x40),
    ("cj_range", 0x80),
    ("timeout", 0x100),
)
FAULT_MASK_ALL = 0x1FF

FAULTS_INVALIDATING_TEMPERATURE = 0x01 | 0x02 | 0x40 | 0x80 | 0x100
"""With any of these set the thermocouple value is not a temperature: open circuit,
over/under voltage, out of the type's range, cold junction out of range, no conversion."""

# Valid ranges, inclusive: a value outside its range is published as null.
TEMP_C_MIN = -270.0
TEMP_C_MAX = 1800.0
COLD_JUNCTION_C_MIN = -55.0
COLD_JUNCTION_C_MAX = 125.0
FLAME_V_MIN = 0.0
FLAME_V_MAX = 12.0
RSSI_DBM_MIN = -127
RSSI_DBM_MAX = 0
EPOCH_MS_MIN = 86400000
"""VictoriaMetrics rejects samples before 1970-01-02."""
EPOCH_MS_MAX = 4102444800000
"""2100-01-01: a clock past this is broken, not early."""

READINGS = "readings"
"""The key of the reading list in telemetry and backfill payloads."""

OFFLINE_PAYLOAD = '{"v": %d, "state": "offline"}' % SCHEMA_VERSION
"""The retained last will on ``status``."""

READING_TEMPLATE = (
    '{"seq": %d, "up_ms": %d, "t": %s, "temp_c": %s, "cj_c": %s, "flame_v": %s, "faults": %d}'
)
"""One reading as JSON, in row order: json.dumps of the same dict writes the same text on
CPython, without a dict per reading. The values come from the buffer at the contract's
precision and are written as they are."""


def fault_names(bits: int) -> "Tuple[str, ...]":
    """Names of the fault bits set in ``bits``, in register order."""
    # A loop, not a generator expression, whose code would keep 48 bytes of a Pico W's heap.
    names = []
    for name, bit in FAULT_BITS:
        if bits & bit:
            names.append(name)
    return tuple(names)


def _head(boot: int) -> str:
    # Every payload but the last will opens with the version and the boot count.
    return '{"v": %d, "minor": %d, "boot": %d, ' % (SCHEMA_VERSION, SCHEMA_MINOR, boot)


def encode_reading(row: "Sequence[Any]") -> str:
    """One reading row ``(seq, up_ms, t, *values, faults)`` as a JSON object."""
    parts = [row[0], row[1]]
    # t and the measured values: a number or null.
    for value in row[2:-1]:
        parts.append("null" if value is None else repr(value))
    parts.append(row[-1])
    return READING_TEMPLATE % tuple(parts)


def encode_readings(
    boot: int, sent_up_ms: int, rows: "Iterable[Sequence[Any]]"
) -> "Tuple[str, int]":
    """Encode as many of ``rows`` (oldest first, any iterable) as fit one payload.

    Returns ``(payload, count)``: the first ``count`` rows are in the payload. ``count`` is at
    least 1 for a non-empty ``rows`` and at most ``MAX_BATCH_READINGS``; the payload is
    never over ``MAX_PAYLOAD_BYTES``.
    """
    # One join at the end: the payload is built once, next to its parts (on a board a
    # copy more of a 4 kB payload may not fit).
    parts: List[str] = [_head(boot) + '"sent_up_ms": %d, "%s": [' % (sent_up_ms, READINGS)]
    size = len(parts[0]) + 2
    count = 0
    for row in rows:
        if count == MAX_BATCH_READINGS:
            break
        text = encode_reading(row)
        if size + len(text) + 2 > MAX_PAYLOAD_BYTES:
            break
        if count:
            parts.append(", ")
        parts.append(text)
        size += len(text) + 2
        count += 1
    parts.append("]}")
    return "".join(parts), count


def encode_health(boot: int, sent_up_ms: int, health: "Dict[str, Any]") -> str:
    """A health payload; ``health`` holds every key of ``HEALTH_FIELDS``."""
    return _head(boot) + '"sent_up_ms": %d, ' % sent_up_ms + json.dumps(health)[1:]


def encode_status(boot: int, status: "Dict[str, Any]") -> str:
    """The retained birth message; ``status`` holds every key of ``STATUS_FIELDS``."""
    return _head(boot) + json.dumps(status)[1:]
