"""Hypothesis strategies for valid contract values, drawn from the field table itself."""

import string
from typing import Any

from hypothesis import strategies as st

from sensor_protocol.fields import (
    ENVELOPE_FIELDS,
    HEALTH_FIELDS,
    READING_FIELDS,
    STATUS_FIELDS,
    STATUS_STATES,
    Field,
)
from sensor_protocol.limits import MAX_ID_LENGTH

ID_ALPHABET = string.ascii_lowercase + string.digits + "_-"

ids = st.text(ID_ALPHABET, min_size=1, max_size=MAX_ID_LENGTH)


def value_of(field: Field) -> st.SearchStrategy[Any]:
    """Any value the contract accepts for ``field``."""
    if field.type == "int":
        values: st.SearchStrategy[Any] = st.integers(field.lo, field.hi)
    elif field.type == "float":
        values = st.floats(field.lo, field.hi, allow_nan=False, allow_infinity=False)
    elif field.type == "bool":
        values = st.booleans()
    else:
        values = st.text(min_size=field.lo, max_size=field.hi)
    return st.none() | values if field.nullable else values


def _row_field(field: Field) -> st.SearchStrategy[Any]:
    # A value at the precision the device keeps (its decimals) keeps round-trip checks exact.
    if field.decimals is not None:
        scale = 10**field.decimals
        ints = st.integers(round(field.lo * scale), round(field.hi * scale))
        exact = ints.map(lambda n: n / scale)
        return st.none() | exact if field.nullable else exact
    return value_of(field)


reading_rows = st.tuples(*(_row_field(field) for field in READING_FIELDS))
"""A reading row ``(seq, up_ms, t, *values, faults)``."""

MEASURED = tuple(field for field in READING_FIELDS if field.decimals is not None)
"""The reading's measured values (the fields between its frame and its faults)."""

measured_values = st.tuples(*(_row_field(field) for field in MEASURED))
"""What the device measures for one reading, in the table's order."""


def row(**values: Any) -> tuple[Any, ...]:
    """A valid reading row: the fields named in ``values`` with those, every other one at the
    low end of its range."""
    unknown = set(values) - {field.key for field in READING_FIELDS}
    assert not unknown, f"not reading fields: {sorted(unknown)}"
    return tuple(values.get(field.key, field.lo) for field in READING_FIELDS)


boots = value_of(ENVELOPE_FIELDS[1])
uptimes_ms = value_of(ENVELOPE_FIELDS[2])

health_bodies = st.fixed_dictionaries({field.key: value_of(field) for field in HEALTH_FIELDS})

status_bodies = st.fixed_dictionaries(
    {
        field.key: st.just(STATUS_STATES[0]) if field.key == "state" else value_of(field)
        for field in STATUS_FIELDS
    }
)
