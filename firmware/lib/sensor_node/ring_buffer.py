"""
`sensor_node.ring_buffer`
================================================================================
The store-and-forward buffer: a fixed-size ring of readings packed into one ``bytearray``
allocated at boot (no per-reading objects, no fragmentation over months), 18 bytes a
reading.

A reading leaves the buffer only when ``ack`` is called after its PUBACK. When the buffer
is full, ``append`` drops the oldest reading and counts it in ``drops``. Rows come back as
``(seq, up_ms, t, temp_c, cj_c, flame_v, faults)``, the contract's reading order, at the
precision the contract publishes (0.01 degC, 1 mV).

One reading, struct ``<IiihHH``:

* ``seq``: not stored. The buffer numbers readings itself, consecutively from 0 at boot,
  so the oldest one's number and the position give every other.
* ``up_ms``: its low 32 bits; the full value is the oldest reading's plus the difference.
  Readings more than 2**32 ms (49.7 days) older than the newest are dropped to keep that
  exact (only a buffer of over 71,000 readings at a 60 s period lives that long).
* ``t``: the wall clock's offset from uptime when the reading was taken (``t - up_ms``),
  relative to the offset of the first reading with a time since the buffer was last
  empty. The offset moves only by NTP corrections, so it fits 32 bits unless the clock
  jumps by 24.8 days while readings wait: those readings then go out without ``t`` and
  the host places them by uptime.
* ``temp_c`` in 0.01 degC (32 bits), ``cj_c`` in 0.01 degC (16 bits), ``flame_v`` in mV
  (16 bits).
* the fault bits, and one bit per value that is None.
"""

from struct import pack_into, unpack_from

try:
    from micropython import const
except ImportError:  # CPython, under test
    const = int  # type: ignore[assignment]

try:
    from typing import Any, Iterator, Optional, Tuple
except ImportError:
    pass

BYTES_PER_READING = const(18)
"""RAM one buffered reading takes."""
_FORMAT = "<IiihHH"
# Not const(): wider than a small int on a board.
_LOW_32 = 0xFFFFFFFF
_SPAN_MS = 1 << 32
_OFFSET_LIMIT = 1 << 31
# Flags above the contract's 9 fault bits: which values are None.
_FAULTS = const(0x1FF)
_NO_TIME = const(0x200)
_NO_TEMP = const(0x400)
_NO_COLD_JUNCTION = const(0x800)
_NO_FLAME = const(0x1000)


class ReadingBuffer:
    """At most ``capacity`` readings, oldest first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.drops = 0
        """Readings dropped because the buffer was full, since boot."""
        self.next_seq = 0
        """The number the next reading gets."""
        self._data = bytearray(BYTES_PER_READING * capacity)
        self._head = 0
        self._count = 0
        self._head_up_ms = 0
        self._offset_base: Optional[int] = None

    def __len__(self) -> int:
        return self._count

    def append(
        self,
        up_ms: int,
        t: "Optional[int]",
        temp_c: "Optional[float]",
        cj_c: "Optional[float]",
        flame_v: "Optional[float]",
        faults: int,
    ) -> bool:
        """Add the reading numbered ``next_seq`` (values within the contract's ranges, as the
        sensors give them); returns True when the oldest was dropped for it."""
        dropped = self._count == self.capacity
        if dropped:
            self._forget(1)
            self.drops += 1
        while self._count and up_ms - self._head_up_ms >= _SPAN_MS:
            self._forget(1)
            self.drops += 1
            dropped = True
        if not self._count:
            self._head_up_ms = up_ms
        # A missing value is stored as 0 with its flag set.
        flags = faults
        offset = 0
        if t is None:
            flags |= _NO_TIME
        else:
            if self._offset_base is None:
                self._offset_base = t - up_ms
            offset = t - up_ms - self._offset_base
            if not -_OFFSET_LIMIT < offset < _OFFSET_LIMIT:
                offset = 0
                flags |= _NO_TIME
        if temp_c is None:
            temp_c = 0
            flags |= _NO_TEMP
        if cj_c is None:
            cj_c = 0
            flags |= _NO_COLD_JUNCTION
        if flame_v is None:
            flame_v = 0
            flags |= _NO_FLAME
        pack_into(
            _FORMAT,
            self._data,
            (self._head + self._count) % self.capacity * BYTES_PER_READING,
            up_ms & _LOW_32,
            offset,
            round(temp_c * 100),
            round(cj_c * 100),
            round(flame_v * 1000),
            flags,
        )
        self._count += 1
        self.next_seq += 1
        return dropped

    def _low_up_ms(self, index: int) -> int:
        return unpack_from("<I", self._data, index * BYTES_PER_READING)[0]

    def row(self, position: int) -> "Tuple[Any, ...]":
        """The reading ``position`` places from the oldest (0 = oldest)."""
        if position < 0 or position >= self._count:
            raise IndexError("no reading at position %d" % position)
        index = (self._head + position) % self.capacity
        low, offset, temp, cold_junction, flame, flags = unpack_from(
            _FORMAT, self._data, index * BYTES_PER_READING
        )
        up_ms = self._head_up_ms + ((low - self._low_up_ms(self._head)) & _LOW_32)
        t = None
        if not flags & _NO_TIME:
            t = up_ms + self._offset_base + offset
        return (
            self.next_seq - self._count + position,
            up_ms,
            t,
            None if flags & _NO_TEMP else temp / 100,
            None if flags & _NO_COLD_JUNCTION else cold_junction / 100,
            None if flags & _NO_FLAME else flame / 1000,
            flags & _FAULTS,
        )

    def oldest(self, count: int) -> "Iterator[Tuple[Any, ...]]":
        """Up to ``count`` readings, oldest first, one at a time (a batch of rows is never
        all in RAM at once); they stay in the buffer."""
        for position in range(min(count, self._count)):
            yield self.row(position)

    def ack(self, count: int) -> None:
        """Remove the ``count`` oldest readings: the broker has them."""
        if count < 0 or count > self._count:
            raise ValueError("cannot acknowledge %d of %d readings" % (count, self._count))
        self._forget(count)

    def _forget(self, count: int) -> None:
        if count == self._count:
            self._head = (self._head + count) % self.capacity
            self._count = 0
            self._offset_base = None
            return
        old_low = self._low_up_ms(self._head)
        self._head = (self._head + count) % self.capacity
        self._count -= count
        self._head_up_ms += (self._low_up_ms(self._head) - old_low) & _LOW_32
