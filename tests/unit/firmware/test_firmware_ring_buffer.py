"""The store-and-forward buffer: order, wrap, drop-oldest, acknowledge, and the packing
giving back every value the contract publishes. The measured values come from the field table
(``MEASURED``), so a new one is checked here without a change."""

from collections import deque
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensor_node.ring_buffer import BYTES_PER_READING, ReadingBuffer
from sensor_protocol.wire import EPOCH_MS_MAX, FAULT_MASK_ALL, encode_readings
from tests.unit.device.contract_checks import widest
from tests.unit.protocol.strategies import MEASURED, measured_values

EPOCH_MS = 1_764_000_000_000
DAY_MS = 86_400_000
VALUES = tuple(round(field.lo + (field.hi - field.lo) / 3, field.decimals) for field in MEASURED)
"""A value for each measured field, in the table's order, at the precision the buffer keeps."""


def reading(seq, t=EPOCH_MS, values=VALUES, faults=0):
    """What ``append`` takes for reading ``seq``: ``(up_ms, t, values, faults)``, sampled every
    5 s, ``t`` (when given) the clock time at boot plus ``up_ms``."""
    up_ms = 10_000 + seq * 5000
    return (up_ms, None if t is None else t + up_ms, values, faults)


def row(seq, *args, **kwargs):
    """The row the buffer gives back for ``reading(seq, ...)``."""
    up_ms, t, values, faults = reading(seq, *args, **kwargs)
    return (seq, up_ms, t, *values, faults)


def fill(buffer, seqs):
    return [buffer.append(*reading(seq)) for seq in seqs]


def test_rows_come_back_oldest_first_numbered_from_zero():
    buffer = ReadingBuffer(10)
    fill(buffer, range(3))

    assert len(buffer) == 3
    assert list(buffer.oldest(2, None)) == [row(0), row(1)]
    assert list(buffer.oldest(10, None)) == [row(0), row(1), row(2)]
    assert buffer.next_seq == 3


def test_none_values_survive_the_packing():
    buffer = ReadingBuffer(4)
    nothing = (None,) * len(MEASURED)
    buffer.append(2**40, None, nothing, FAULT_MASK_ALL)

    assert list(buffer.oldest(1, None)) == [(0, 2**40, None, *nothing, FAULT_MASK_ALL)]


def test_a_reading_without_a_time_is_stamped_on_the_way_out_by_the_clocks_offset():
    """Taken before the first NTP sync: stamped when sent, from its uptime (same boot)."""
    buffer = ReadingBuffer(4)
    buffer.append(5_000, None, VALUES, 0)
    buffer.append(10_000, EPOCH_MS + 10_000, VALUES, 0)

    clock = SimpleNamespace(epoch_ms=lambda up_ms: EPOCH_MS + up_ms)
    assert [r[2] for r in buffer.oldest(2, clock)] == [EPOCH_MS + 5_000, EPOCH_MS + 10_000]
    assert [r[2] for r in buffer.oldest(2, None)] == [None, EPOCH_MS + 10_000]


def test_extreme_values_survive_the_packing():
    buffer = ReadingBuffer(4)
    highest = tuple(field.hi for field in MEASURED)
    lowest = tuple(field.lo for field in MEASURED)
    buffer.append(2**45, EPOCH_MS_MAX, highest, 0)
    buffer.append(2**45 + 1, EPOCH_MS_MAX, lowest, FAULT_MASK_ALL)

    assert list(buffer.oldest(2, None)) == [
        (0, 2**45, EPOCH_MS_MAX, *highest, 0),
        (1, 2**45 + 1, EPOCH_MS_MAX, *lowest, FAULT_MASK_ALL),
    ]


def test_values_are_kept_to_the_decimals_the_contract_publishes():
    buffer = ReadingBuffer(4)
    finer = tuple(value + 0.12345 for value in VALUES)
    buffer.append(0, None, finer, 0)

    kept = tuple(round(v, field.decimals) for v, field in zip(finer, MEASURED, strict=True))
    assert list(buffer.oldest(1, None)) == [(0, 0, None, *kept, 0)]
    # The encoder writes them as they come: the buffer is where they get their precision.
    payload, _ = encode_readings(1, 1, buffer.oldest(1, None))
    for value, field in zip(kept, MEASURED, strict=True):
        assert f'"{field.key}": {value!r},' in payload


def test_peeking_does_not_remove_and_ack_does():
    buffer = ReadingBuffer(10)
    fill(buffer, range(5))

    list(buffer.oldest(3, None))
    assert len(buffer) == 5
    buffer.ack(3)
    assert list(buffer.oldest(10, None)) == [row(3), row(4)]


def test_a_full_buffer_drops_the_oldest_and_counts():
    buffer = ReadingBuffer(3)
    dropped = fill(buffer, range(5))

    assert dropped == [False, False, False, True, True]
    assert buffer.drops == 2
    assert list(buffer.oldest(3, None)) == [row(2), row(3), row(4)]


def test_wrapping_many_times_keeps_order_and_numbers():
    buffer = ReadingBuffer(7)
    seq = 0
    for _ in range(50):
        for _ in range(5):
            buffer.append(*reading(seq))
            seq += 1
        buffer.ack(min(4, len(buffer)))

    assert list(buffer.oldest(100, None)) == [row(s) for s in range(seq - len(buffer), seq)]


def test_uptime_is_exact_across_the_32_bit_boundary():
    buffer = ReadingBuffer(8)
    ups = [2**32 - DAY_MS, 2**32 - 1, 2**32, 2**32 + DAY_MS, 2**32 + 40 * DAY_MS]
    for up_ms in ups:
        buffer.append(up_ms, EPOCH_MS + up_ms, VALUES, 0)
    buffer.ack(1)

    assert [r[1] for r in buffer.oldest(8, None)] == ups[1:]
    assert [r[2] for r in buffer.oldest(8, None)] == [EPOCH_MS + up_ms for up_ms in ups[1:]]


def test_readings_stay_at_most_2_to_the_32_ms_behind_the_newest():
    buffer = ReadingBuffer(100)
    step = 2**30  # 12.4 days between readings: a 100-reading buffer would span 3.4 years
    for seq in range(10):
        buffer.append(seq * step, None, VALUES, 0)

    ups = [r[1] for r in buffer.oldest(100, None)]
    assert ups == [seq * step for seq in range(6, 10)]
    assert buffer.drops == 6
    assert [r[0] for r in buffer.oldest(100, None)] == [6, 7, 8, 9]


def test_clock_corrections_keep_each_readings_own_time():
    buffer = ReadingBuffer(10)
    offsets = [EPOCH_MS, EPOCH_MS - 180, EPOCH_MS + 2_000_000, EPOCH_MS - DAY_MS]
    for seq, offset in enumerate(offsets):
        buffer.append(seq * 5000, offset + seq * 5000, VALUES, 0)

    assert [r[2] for r in buffer.oldest(10, None)] == [o + s * 5000 for s, o in enumerate(offsets)]


def test_readings_taken_after_the_first_sync_keep_their_time():
    buffer = ReadingBuffer(10)
    buffer.append(0, None, VALUES, 0)
    buffer.append(5000, EPOCH_MS + 5000, VALUES, 0)

    assert [r[2] for r in buffer.oldest(10, None)] == [None, EPOCH_MS + 5000]


def test_a_clock_jump_of_a_month_while_readings_wait_loses_only_their_wall_time():
    buffer = ReadingBuffer(10)
    buffer.append(0, EPOCH_MS, VALUES, 0)
    buffer.append(5000, EPOCH_MS + 31 * DAY_MS + 5000, VALUES, 0)

    assert [r[2] for r in buffer.oldest(10, None)] == [EPOCH_MS, None]
    assert [r[1] for r in buffer.oldest(10, None)] == [0, 5000], "stamped from uptime when sent"
    buffer.ack(2)
    buffer.append(10_000, EPOCH_MS + 31 * DAY_MS + 10_000, VALUES, 0)
    assert [r[2] for r in buffer.oldest(1, None)] == [EPOCH_MS + 31 * DAY_MS + 10_000], (
        "an empty buffer takes the new base"
    )


def test_bad_acks_and_capacities_are_refused():
    buffer = ReadingBuffer(3)
    buffer.append(*reading(0))

    with pytest.raises(ValueError, match="cannot acknowledge 2 of 1"):
        buffer.ack(2)
    with pytest.raises(ValueError):
        ReadingBuffer(0)


def test_an_hour_at_the_default_period_is_one_allocation_at_boot():
    buffer = ReadingBuffer(720)

    assert len(buffer._data) == 720 * BYTES_PER_READING
    assert 720 * 5 >= 3600


values = st.tuples(measured_values, st.integers(0, FAULT_MASK_ALL), st.booleans())
operations = st.lists(
    st.one_of(st.tuples(st.just("append"), values), st.tuples(st.just("ack"), st.integers(0, 6))),
    max_size=200,
)


@given(capacity=st.integers(1, 12), ops=operations, start=st.integers(0, 2**40))
def test_behaves_like_a_bounded_deque(capacity, ops, start):
    buffer = ReadingBuffer(capacity)
    model: deque = deque(maxlen=capacity)
    drops = 0
    seq = 0
    for op in ops:
        if op[0] == "append":
            measured, faults, clock = op[1]
            up_ms = start + seq * 5000
            t = EPOCH_MS + up_ms if clock else None
            drops += len(model) == capacity
            model.append((seq, up_ms, t, *measured, faults))
            buffer.append(up_ms, t, measured, faults)
            seq += 1
        else:
            count = min(op[1], len(model))
            for _ in range(count):
                model.popleft()
            buffer.ack(count)
        assert list(buffer.oldest(capacity, None)) == list(model)
    assert buffer.drops == drops


def test_a_full_buffer_of_worst_case_readings_goes_out_in_full_batches():
    from sensor_protocol.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES
    from sensor_protocol.payloads import decode_readings

    buffer = ReadingBuffer(100)
    buffer.next_seq = 2**31 - 101
    widest_values = tuple(widest(field) for field in MEASURED)
    for seq in range(100):
        buffer.append(2**45 + seq, EPOCH_MS_MAX, widest_values, FAULT_MASK_ALL)

    payload, count = encode_readings(
        2**31 - 1, 2**45 + 200, buffer.oldest(MAX_BATCH_READINGS, None)
    )

    assert count == MAX_BATCH_READINGS
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
    assert len(decode_readings(payload)["readings"]) == MAX_BATCH_READINGS
