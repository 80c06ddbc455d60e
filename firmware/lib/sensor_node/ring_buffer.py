"""
`sensor_node.ring_buffer`
================================================================================
The store-and-forward buffer: a fixed-size ring of readings in flat ``array`` columns,
allocated once at boot (no per-reading objects, no fragmentation over months).

A reading leaves the buffer only when ``ack`` is called after its PUBACK. When the buffer
is full, ``append`` drops the oldest reading and counts it in ``drops``. Rows come back as
``(seq, up_ms, t, temp_c, cj_c, flame_v, faults)``, the contract's reading order.
"""

from array import array

try:
    from typing import Any, List, Optional, Tuple
except ImportError:
    pass

_TYPECODES = "IqqfffH"
"""seq (uint32), up_ms and t (int64, t -1 for none), temp, cj and flame (float32, NaN for
none), faults (uint16): 34 bytes a reading."""
_NAN = float("nan")
_NO_TIME = -1


def _item_bytes(typecode: str) -> int:
    # MicroPython's array has no ``itemsize``; its buffer has the same length.
    return len(bytes(array(typecode, (0,))))


def _column(typecode: str, capacity: int) -> "Any":
    # A bytes initialiser fills the array raw, on CircuitPython as on CPython, without a
    # temporary list of ``capacity`` objects.
    return array(typecode, bytes(_item_bytes(typecode) * capacity))


def _float_or_none(value: float) -> "Optional[float]":
    return None if value != value else value


class ReadingBuffer:
    """At most ``capacity`` readings, oldest first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.drops = 0
        """Readings dropped because the buffer was full, since boot."""
        # One column per reading field, in _TYPECODES order.
        self._seq = _column("I", capacity)
        self._up_ms = _column("q", capacity)
        self._t = _column("q", capacity)
        self._temp = _column("f", capacity)
        self._cj = _column("f", capacity)
        self._flame = _column("f", capacity)
        self._faults = _column("H", capacity)
        self._head = 0
        self._count = 0

    @property
    def bytes_per_reading(self) -> int:
        """RAM one reading takes."""
        return sum(_item_bytes(typecode) for typecode in _TYPECODES)

    def __len__(self) -> int:
        return self._count

    def append(self, row: "Tuple[Any, ...]") -> bool:
        """Add a reading row; returns True when the oldest reading was dropped for it."""
        dropped = self._count == self.capacity
        if dropped:
            self._head = (self._head + 1) % self.capacity
            self._count -= 1
            self.drops += 1
        index = (self._head + self._count) % self.capacity
        seq, up_ms, t, temp_c, cj_c, flame_v, faults = row
        self._seq[index] = seq
        self._up_ms[index] = up_ms
        self._t[index] = _NO_TIME if t is None else t
        self._temp[index] = _NAN if temp_c is None else temp_c
        self._cj[index] = _NAN if cj_c is None else cj_c
        self._flame[index] = _NAN if flame_v is None else flame_v
        self._faults[index] = faults
        self._count += 1
        return dropped

    def row(self, position: int) -> "Tuple[Any, ...]":
        """The reading ``position`` places from the oldest (0 = oldest)."""
        if position < 0 or position >= self._count:
            raise IndexError("no reading at position %d" % position)
        index = (self._head + position) % self.capacity
        t = self._t[index]
        return (
            self._seq[index],
            self._up_ms[index],
            None if t == _NO_TIME else t,
            _float_or_none(self._temp[index]),
            _float_or_none(self._cj[index]),
            _float_or_none(self._flame[index]),
            self._faults[index],
        )

    def oldest(self, count: int) -> "List[Tuple[Any, ...]]":
        """Up to ``count`` readings, oldest first; they stay in the buffer."""
        return [self.row(position) for position in range(min(count, self._count))]

    def ack(self, count: int) -> None:
        """Remove the ``count`` oldest readings: the broker has them."""
        if count < 0 or count > self._count:
            raise ValueError("cannot acknowledge %d of %d readings" % (count, self._count))
        self._head = (self._head + count) % self.capacity
        self._count -= count
