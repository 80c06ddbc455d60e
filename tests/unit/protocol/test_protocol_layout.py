"""The device's reading layout is the field table's.

The firmware cannot import ``sensor_protocol.fields`` (its help texts and tuples would cost a
Pico W the heap the packed buffer saves), so it keeps the layout in four constants: the
encoder's ``wire.READING_TEMPLATE`` and the buffer's ``READING_FORMAT``, ``VALUE_SCALES`` and
``BYTES_PER_READING``. Here they are derived from ``fields.READING_FIELDS``; when they differ,
the failure says what to write.
"""

import struct

from sensor_node import ring_buffer
from sensor_protocol import wire
from sensor_protocol.fields import FAULT_MASK_ALL, READING_FIELDS

FRAME = ("seq", "up_ms", "t")
"""What opens every reading; ``faults`` closes it, and the measured values are in between."""

# (struct code, lowest, highest): unsigned before signed, narrow before wide.
_INT_CODES = (
    ("B", 0, 2**8 - 1),
    ("b", -(2**7), 2**7 - 1),
    ("H", 0, 2**16 - 1),
    ("h", -(2**15), 2**15 - 1),
    ("I", 0, 2**32 - 1),
    ("i", -(2**31), 2**31 - 1),
)


def _values():
    return READING_FIELDS[len(FRAME) : -1]


def _smallest_code(lo, hi):
    return next(code for code, low, high in _INT_CODES if low <= lo and hi <= high)


def reading_template():
    """The JSON text of one reading with a ``%`` placeholder per field: a number that is never
    null is written as ``%d``, anything else as the text the encoder makes of it."""
    placeholders = [
        f'"{field.key}": ' + ("%d" if field.type == "int" and not field.nullable else "%s")
        for field in READING_FIELDS
    ]
    return "{" + ", ".join(placeholders) + "}"


def value_scales():
    return tuple(10**field.decimals for field in _values())


def buffer_format():
    """up_ms's low 32 bits and t's offset from uptime in 32 (ring_buffer's docstring says
    why), each measured value as an integer of its decimals in the smallest code that holds
    its range, then one word for the fault bits and a None flag for t and each value."""
    codes = ["<I", "i"]
    for field, scale in zip(_values(), value_scales(), strict=True):
        codes.append(_smallest_code(round(field.lo * scale), round(field.hi * scale)))
    flags = FAULT_MASK_ALL.bit_length() + 1 + len(_values())
    codes.append(_smallest_code(0, 2**flags - 1))
    return "".join(codes)


def test_a_reading_is_its_frame_its_measured_values_and_its_faults():
    keys = tuple(field.key for field in READING_FIELDS)
    assert keys[: len(FRAME)] == FRAME
    assert keys[-1] == "faults", "a new measured value goes right before faults"
    for field in READING_FIELDS:
        measured = field in _values()
        assert (field.decimals is not None) == measured, field.key
        if measured:
            assert field.type in ("int", "float") and field.nullable, field.key


def test_the_encoder_writes_the_tables_reading():
    expected = reading_template()

    assert wire.READING_TEMPLATE == expected, (
        f"set sensor_protocol.wire.READING_TEMPLATE = {expected!r}"
    )


def test_the_buffer_keeps_the_tables_reading():
    expected = (buffer_format(), value_scales(), struct.calcsize(buffer_format()))
    found = (ring_buffer.READING_FORMAT, ring_buffer.VALUE_SCALES, ring_buffer.BYTES_PER_READING)

    assert found == expected, (
        f"set sensor_node.ring_buffer's READING_FORMAT = {expected[0]!r}, "
        f"VALUE_SCALES = {expected[1]!r}, BYTES_PER_READING = const({expected[2]})"
    )
