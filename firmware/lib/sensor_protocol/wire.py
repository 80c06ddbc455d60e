"""
`sensor_protocol.wire`
================================================================================
The part of the contract the device runs, and nothing else: the numbers it enforces (fault
bits, valid ranges) and the payload encoders. Every number is written here once; the host's
modules build on these names (``fields`` makes its table from them, ``payloads`` re-exports
the encoders next to its decoders). The device imports neither ``fields`` nor ``payloads``:
their tables, help texts and validation would cost a Pico W about 13 kB of RAM.

A reading row is ``(seq, up_ms, t, temp_c, cj_c, flame_v, faults)``, the order of
``fields.READING_FIELDS``; the decoders' round-trip tests hold the two together.
"""

import json

from sensor_protocol import SCHEMA_VERSION
from sensor_protocol.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES

try:
    from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple
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

# One reading as JSON, in row order (json.dumps of the same dict writes the same text on
# CPython, without a dict per reading). Decimals kept on the wire: the MAX31856 resolves
# 1/128 degC, the ADC about 1 mV.
_READING = (
    '{"seq": %d, "up_ms": %d, "t": %s, "temp_c": %s, "cj_c": %s, "flame_v": %s, "faults": %d}'
)


def fault_names(bits: int) -> "Tuple[str, ...]":
    """Names of the fault bits set in ``bits``, in register order."""
    return tuple(name for name, bit in FAULT_BITS if bits & bit)


def _number(value: "Optional[float]", digits: int) -> str:
    return "null" if value is None else repr(round(value, digits))


def _envelope(boot: int, sent_up_ms: int) -> str:
    return '{"v": %d, "boot": %d, "sent_up_ms": %d' % (SCHEMA_VERSION, boot, sent_up_ms)


def encode_reading(row: "Sequence[Any]") -> str:
    """One reading row ``(seq, up_ms, t, temp_c, cj_c, flame_v, faults)`` as a JSON object."""
    seq, up_ms, t, temp_c, cj_c, flame_v, faults = row
    return _READING % (
        seq,
        up_ms,
        "null" if t is None else "%d" % t,
        _number(temp_c, 2),
        _number(cj_c, 2),
        _number(flame_v, 3),
        faults,
    )


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
    parts: List[str] = [_envelope(boot, sent_up_ms) + ', "%s": [' % READINGS]
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
    body = json.dumps(health)
    return _envelope(boot, sent_up_ms) + ", " + body[1:]


def encode_status(boot: int, status: "Dict[str, Any]") -> str:
    """The retained birth message; ``status`` holds every key of ``STATUS_FIELDS``."""
    body = dict(status)
    body["v"] = SCHEMA_VERSION
    body["boot"] = boot
    return json.dumps(body)
