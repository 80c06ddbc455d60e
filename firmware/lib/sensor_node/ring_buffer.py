"""
`sensor_node.ring_buffer`
================================================================================
The store-and-forward buffer: a fixed-size ring of readings packed into one ``bytearray``
allocated at boot (no per-reading objects, no fragmentation over months), ``BYTES_PER_READING``
a reading.

A reading leaves the buffer only when ``ack`` is called after its PUBACK. When the buffer
is full, ``append`` drops the oldest reading and counts it in ``drops``. Rows come back as
``(seq, up_ms, t, *values, faults)``, the contract's reading order, each measured value at
the precision the contract publishes (its ``decimals`` in the field table): the buffer is
where a value gets that precision, and the encoder writes it as it comes.

The code is the same for every measured value; what differs is in three constants,
``READING_FORMAT``, ``VALUE_SCALES`` and ``BYTES_PER_READING``, which
tests/unit/protocol/test_protocol_layout.py derives from the field table (the device cannot
read the table: it would cost the heap the packing saves). One reading, ``READING_FORMAT``:

* ``seq``: not stored. The buffer numbers readings itself, consecutively from 0 at boot,
  so the oldest one's number and the position give every other.
* ``up_ms``: its low 32 bits; the full value is the oldest reading's plus the difference.
  Readings more than 2**32 ms (49.7 days) older than the newest are dropped to keep that
  exact (only a buffer of over 71,000 readings at a 60 s period lives that long).
* ``t``: the wall clock's offset from uptime when the reading was taken (``t - up_ms``),
  relative to the offset of the first reading with a time since the buffer was last
  empty. The offset moves only by NTP corrections, so it fits 32 bits unless the clock
  jumps by 24.8 days while readings wait: those readings are then kept without a time, like
  those taken before the clock was set, and stamped on the way out (``oldest``).
* each measured value as an integer of its decimals (0.01 degC, mV), in the smallest struct
  code that holds its valid range.
* the fault bits, then one bit for a None ``t`` and one per measured value that is None, in
  the smallest code that holds them all.
"""

from struct import pack_into, unpack_from

try:
    from micropython import const
except ImportError:  # CPython, under test
    const = int  # type: ignore[assignment]

try:
    from typing import Any, Iterator, Optional, Sequence, Tuple
except ImportError:
    pass

READING_FORMAT = "<IiihHH"
"""One buffered reading: up_ms, t, the measured values, the flags."""
VALUE_SCALES = (100, 100, 1000)
"""What each measured value is multiplied by to be kept as an integer: 10 to the power of its
decimals (the MAX31856 resolves 1/128 degC, the ADC about 1 mV)."""
BYTES_PER_READING = const(18)
"""RAM one buffered reading takes: ``struct.calcsize(READING_FORMAT)``, written out (the call
costs a Pico W 80 bytes of heap for good; the layout test checks the figure)."""
# Not const(): wider than a small int on a board.
_LOW_32 = 0xFFFFFFFF
_SPAN_MS = 1 << 32
_OFFSET_LIMIT = 1 << 31
# Flags above the contract's 9 fault bits: which values are None (the first measured
# value's bit, then one bit higher for each next one).
_FAULTS = const(0x1FF)
_NO_TIME = const(0x200)
_NO_VALUE = const(0x400)


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
        self, up_ms: int, t: "Optional[int]", values: "Sequence[Optional[float]]", faults: int
    ) -> bool:
        """Add the reading numbered ``next_seq``: ``values`` are its measured values in the
        contract's order, within their ranges, as the sensors give them. Returns True when
        the oldest was dropped for it."""
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
        record = [up_ms & _LOW_32, offset]
        bit = _NO_VALUE
        for value, scale in zip(values, VALUE_SCALES):
            if value is None:
                flags |= bit
                record.append(0)
            else:
                record.append(round(value * scale))
            bit <<= 1
        record.append(flags)
        pack_into(
            READING_FORMAT,
            self._data,
            (self._head + self._count) % self.capacity * BYTES_PER_READING,
            *record,
        )
        self._count += 1
        self.next_seq += 1
        return dropped

    def _low_up_ms(self, index: int) -> int:
        return unpack_from("<I", self._data, index * BYTES_PER_READING)[0]

    def oldest(self, count: int, clock: "Any") -> "Iterator[Tuple[Any, ...]]":
        """Up to ``count`` readings, oldest first, one at a time (a batch of rows is never
        all in RAM at once); they stay in the buffer. A reading kept without a time gets
        ``clock.epoch_ms(up_ms)`` (``sensor_node.clock``: every reading here is of this boot),
        or None when ``clock`` is None. Asked only for such a reading: the Unix time is a long
        int on a board, one more allocation."""
        # The rows are unpacked here rather than in a method of their own: one function less
        # is 128 bytes more free heap on a Pico W.
        for position in range(min(count, self._count)):
            index = (self._head + position) % self.capacity
            record = unpack_from(READING_FORMAT, self._data, index * BYTES_PER_READING)
            up_ms = self._head_up_ms + ((record[0] - self._low_up_ms(self._head)) & _LOW_32)
            flags = record[-1]
            t = None
            if not flags & _NO_TIME:
                t = up_ms + self._offset_base + record[1]
            elif clock is not None:
                t = clock.epoch_ms(up_ms)
            row = [self.next_seq - self._count + position, up_ms, t]
            bit = _NO_VALUE
            for stored, scale in zip(record[2:-1], VALUE_SCALES):
                row.append(None if flags & bit else stored / scale)
                bit <<= 1
            row.append(flags & _FAULTS)
            yield tuple(row)

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
