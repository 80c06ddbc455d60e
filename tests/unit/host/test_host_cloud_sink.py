"""The forwarder's stand-in for the rendered ``grafana_cloud`` sink: a disk buffer with the
semantics of Vector's (website/content/en/docs/architecture/buffering-model.md), Vector's retry
rules for remote write (src/sinks/util/http.rs, src/sinks/util/service.rs), and the
``/federate`` exposition the ``alerts_from_victoriametrics`` source reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor_bridge.local.cloud_sink import CloudSink, retryable
from sensor_bridge.local.disk_buffer import DiskBuffer
from sensor_bridge.local.federate import parse_exposition
from sensor_bridge.local.remote_write import Series
from tests.support.cloud import TOKEN, USER
from tests.support.cloud_standin import CloudStandIn, snappy_decompress
from tests.support.waiting import wait_until

WAIT_S = 10.0


def test_records_come_out_in_order_and_survive_a_restart(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, 1024, "block")
    for number in range(3):
        assert buffer.push(f"record {number}".encode())
    assert buffer.oldest(timeout=0) == b"record 0"
    buffer.ack()
    buffer.close()
    # What was not acknowledged is still there, oldest first, for the next process.
    again = DiskBuffer(tmp_path, 1024, "block")
    assert len(again) == 2
    assert again.size_bytes == len(b"record 1") * 2
    assert again.oldest(timeout=0) == b"record 1"
    again.ack()
    assert again.oldest(timeout=0) == b"record 2"


def test_a_full_drop_newest_buffer_drops_what_does_not_fit(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, 10, "drop_newest")
    assert buffer.push(b"12345678")
    assert not buffer.push(b"abc")
    assert buffer.dropped == 1
    assert buffer.oldest(timeout=0) == b"12345678"
    buffer.ack()
    assert buffer.push(b"abc"), "room again once the oldest went out"


def test_a_full_blocking_buffer_waits_for_room(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, 10, "block")
    assert buffer.push(b"12345678")
    pushed = threading.Event()
    writer = threading.Thread(target=lambda: pushed.set() if buffer.push(b"abc") else None)
    writer.start()
    assert not pushed.wait(0.3), "no room: the writer waits"
    buffer.ack()
    assert pushed.wait(WAIT_S), "room: the writer goes on"
    writer.join(WAIT_S)
    assert buffer.oldest(timeout=0) == b"abc"


@pytest.mark.parametrize(
    ("status", "again"),
    [(408, True), (429, True), (500, True), (503, True), (501, False), (400, False), (401, False)],
)
def test_vector_retries_these_statuses(status: int, again: bool) -> None:
    assert retryable(status) is again


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[CloudSink, CloudStandIn]]:
    with CloudStandIn(USER, TOKEN) as cloud:
        config = {
            "endpoint": cloud.url,
            "auth": {"strategy": "basic", "user": USER, "password": TOKEN},
            "buffer": {"type": "disk", "max_size": 1 << 20, "when_full": "drop_newest"},
        }
        sink = CloudSink(config, tmp_path / "buffer", retry_max_s=0.2).start()
        try:
            yield sink, cloud
        finally:
            sink.stop()


def test_the_sink_sends_oldest_first_with_basic_auth(
    sink: tuple[CloudSink, CloudStandIn],
) -> None:
    cloud_sink, cloud = sink
    for stamp in (1000, 2000, 3000):
        assert cloud_sink.send([Series({"__name__": "furnace_x", "device": "d"}, [(stamp, 1.0)])])
    wait_until(lambda: len(cloud_sink.buffer) == 0, WAIT_S, "the buffer drained")
    assert [s.timestamp_ms for s in cloud.received()] == [1000, 2000, 3000]
    assert cloud_sink.sent_requests == 3
    assert cloud_sink.rejected == []


def test_a_request_refused_for_good_is_dropped_not_retried(tmp_path: Path) -> None:
    with CloudStandIn(USER, TOKEN) as cloud:
        config = {
            "endpoint": cloud.url,
            "auth": {"strategy": "basic", "user": USER, "password": "a wrong token"},
            "buffer": {"type": "disk", "max_size": 1 << 20, "when_full": "drop_newest"},
        }
        cloud_sink = CloudSink(config, tmp_path / "buffer", retry_max_s=0.2).start()
        try:
            cloud_sink.send([Series({"__name__": "furnace_x"}, [(1, 1.0)])])
            wait_until(lambda: len(cloud_sink.buffer) == 0, WAIT_S, "the refused one dropped")
        finally:
            cloud_sink.stop()
        assert cloud_sink.rejected == [401]
        assert cloud.received() == []


def test_federate_exposition_keeps_labels_and_timestamps() -> None:
    text = (
        "# TYPE ALERTS untyped\n"
        'ALERTS{alertname="FurnaceTooHot",alertstate="firing",device="furnace-1",'
        'summary="a \\"quoted\\" word"} 1 1700000000123\n'
        'ALERTS{alertname="Heartbeat",alertstate="firing"} 1\n'
    )
    (hot, heartbeat) = parse_exposition(text, now_ms=42)
    assert hot.labels == {
        "__name__": "ALERTS",
        "alertname": "FurnaceTooHot",
        "alertstate": "firing",
        "device": "furnace-1",
        "summary": 'a "quoted" word',
    }
    assert list(hot.samples) == [(1700000000123, 1.0)]
    assert list(heartbeat.samples) == [(42, 1.0)], "no timestamp: the scrape's time"


def test_the_stand_in_reads_snappy_copies_too() -> None:
    """A real compressor's output has copies, not only the literals our sender writes
    (google/snappy format_description.txt: tag 0b01 is a copy with a 1-byte offset, its length
    - 4 in bits 2-4): "abcd" as a literal, then 8 bytes copied from 4 back, overlapping."""
    block = bytes([12, (4 - 1) << 2]) + b"abcd" + bytes([((8 - 4) << 2) | 0b01, 4])
    assert snappy_decompress(block) == b"abcdabcdabcd"
