"""The store-and-forward buffer: order, wrap, drop-oldest, acknowledge."""

import math
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensor_node.ring_buffer import ReadingBuffer


def row(seq, t=1_764_000_000_000, temp=1100.5, cj=25.25, flame=3.5, faults=0):
    return (seq, 10_000 + seq * 5000, t, temp, cj, flame, faults)


def test_rows_come_back_oldest_first_with_their_values():
    buffer = ReadingBuffer(10)
    for seq in range(3):
        buffer.append(row(seq))

    assert len(buffer) == 3
    assert buffer.oldest(2) == [row(0), row(1)]
    assert buffer.row(2) == row(2)


def test_none_values_survive_the_flat_columns():
    buffer = ReadingBuffer(4)
    buffer.append((7, 2**40, None, None, None, None, 0x1FF))

    assert buffer.row(0) == (7, 2**40, None, None, None, None, 0x1FF)


def test_floats_are_kept_to_single_precision():
    buffer = ReadingBuffer(4)
    buffer.append(row(0, temp=1234.5678, cj=-12.34, flame=0.123))

    _, _, _, temp, cj, flame, _ = buffer.row(0)
    assert math.isclose(temp, 1234.5678, abs_tol=1e-3)
    assert math.isclose(cj, -12.34, abs_tol=1e-5)
    assert math.isclose(flame, 0.123, abs_tol=1e-6)


def test_peeking_does_not_remove_and_ack_does():
    buffer = ReadingBuffer(10)
    for seq in range(5):
        buffer.append(row(seq))

    buffer.oldest(3)
    assert len(buffer) == 5
    buffer.ack(3)
    assert buffer.oldest(10) == [row(3), row(4)]


def test_a_full_buffer_drops_the_oldest_and_counts():
    buffer = ReadingBuffer(3)
    dropped = [buffer.append(row(seq)) for seq in range(5)]

    assert dropped == [False, False, False, True, True]
    assert buffer.drops == 2
    assert [r[0] for r in buffer.oldest(3)] == [2, 3, 4]


def test_wrapping_many_times_keeps_order():
    buffer = ReadingBuffer(7)
    seq = 0
    for _ in range(50):
        for _ in range(5):
            buffer.append(row(seq))
            seq += 1
        buffer.ack(min(4, len(buffer)))

    seqs = [r[0] for r in buffer.oldest(100)]
    assert seqs == list(range(seq - len(buffer), seq))


def test_bad_positions_and_acks_are_refused():
    buffer = ReadingBuffer(3)
    buffer.append(row(0))

    with pytest.raises(IndexError):
        buffer.row(1)
    with pytest.raises(ValueError, match="cannot acknowledge 2 of 1"):
        buffer.ack(2)
    with pytest.raises(ValueError):
        ReadingBuffer(0)


def test_one_hour_at_the_default_period_fits_a_pico_w():
    buffer = ReadingBuffer(1000)

    assert buffer.bytes_per_reading == 34
    assert 1000 * 5 >= 3600  # readings x default period covers an hour
    assert buffer.bytes_per_reading * buffer.capacity < 40_000


operations = st.lists(
    st.one_of(st.tuples(st.just("append")), st.tuples(st.just("ack"), st.integers(0, 6))),
    max_size=200,
)


@given(capacity=st.integers(1, 12), ops=operations)
def test_behaves_like_a_bounded_deque(capacity, ops):
    buffer = ReadingBuffer(capacity)
    model: deque = deque(maxlen=capacity)
    drops = 0
    seq = 0
    for op in ops:
        if op[0] == "append":
            drops += len(model) == capacity
            model.append(row(seq))
            buffer.append(row(seq))
            seq += 1
        else:
            count = min(op[1], len(model))
            for _ in range(count):
                model.popleft()
            buffer.ack(count)
        assert buffer.oldest(capacity) == list(model)
    assert buffer.drops == drops


def test_a_full_buffer_of_worst_case_readings_goes_out_in_full_batches():
    from sensor_protocol.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES
    from sensor_protocol.payloads import decode_readings, encode_readings

    buffer = ReadingBuffer(100)
    for seq in range(100):
        buffer.append(
            (2**31 - 101 + seq, 2**45 + seq, 4_102_444_800_000, -269.99, -54.99, 11.999, 0x1FF)
        )

    payload, count = encode_readings(2**31 - 1, 2**45 + 200, buffer.oldest(MAX_BATCH_READINGS))

    assert count == MAX_BATCH_READINGS
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
    assert len(decode_readings(payload)["readings"]) == MAX_BATCH_READINGS
