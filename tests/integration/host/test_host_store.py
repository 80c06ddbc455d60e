"""The store client against a real VictoriaMetrics on the rendered flags: import, remote write,
export, query, flush, health, deduplication and the cache reset, and each failure as one line.

A cluster cannot run here (Debian ships no vminsert, vmselect or vmstorage): its URL shapes
are the unit tests' (tests/unit/host/test_host_store_urls.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sensor_bridge.local import remote_write
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.render import RenderedFile, victoriametrics
from sensor_bridge.store.client import Store, StoreError

LABELS = {"__name__": "furnace_furnace_temp", "studio": "studio-1", "device": "furnace-1"}


def _line(values: list[float], stamps_ms: list[int]) -> bytes:
    return json.dumps({"metric": LABELS, "values": values, "timestamps": stamps_ms}).encode()


def test_imported_samples_come_back_exactly_within_the_bounds(server: VictoriaMetrics) -> None:
    base_ms = (int(time.time()) - 3600) * 1000 + 250
    stamps = [base_ms + i * 5000 for i in range(10)]
    server.import_lines(_line([1000.0 + i for i in range(10)], stamps))
    server.flush()

    (everything,) = server.export('furnace_furnace_temp{device="furnace-1"}')
    assert everything == {
        "metric": LABELS,
        "values": [1000.0 + i for i in range(10)],
        "timestamps": stamps,
    }
    # Both bounds inclusive, to the millisecond.
    (middle,) = server.export("furnace_furnace_temp", stamps[2] / 1000, stamps[4] / 1000)
    assert middle["timestamps"] == stamps[2:5]
    assert list(server.export_lines("furnace_furnace_temp")) == [everything]
    assert server.export('furnace_furnace_temp{device="glory-hole"}') == []


def test_a_query_sees_what_was_stored_a_moment_ago(server: VictoriaMetrics) -> None:
    # The rendered store hides the newest 5 s from ordinary queries; the client's do not.
    assert "-search.latencyOffset=5s" in server.flags
    now = time.time()
    written = remote_write.Series(LABELS, [(int(now * 1000), 1234.5)])
    assert remote_write.write(server.urls.remote_write, [written]) == 204
    server.flush()
    (row,) = server.query('furnace_furnace_temp{studio="studio-1"}', now)
    assert (row["metric"], float(row["value"][1])) == (LABELS, 1234.5)
    # After a backfill: cached results are dropped (a path the node does not have would 404).
    server.reset_cache()


def test_health_and_deduplication_are_read_from_the_node(
    server: VictoriaMetrics, tmp_path: Path, unit: RenderedFile
) -> None:
    assert server.healthy()
    assert server.dedup_interval() == victoriametrics.DEDUP_INTERVAL
    (tmp_path / "plain").mkdir()
    with VictoriaMetrics(
        tmp_path / "plain", unit.text, without=("-dedup.minScrapeInterval",)
    ) as plain:
        assert plain.dedup_interval() is None
    assert not plain.healthy()


def test_a_refusal_and_a_store_that_is_gone_are_one_line_each(server: VictoriaMetrics) -> None:
    with pytest.raises(StoreError) as refused:
        server.query("rate(", time.time())
    assert refused.value.status == 422
    message = str(refused.value)
    assert message.startswith(f"VictoriaMetrics at {server.url} refused the query: 422 ")
    assert "\n" not in message

    server.stop()
    gone = Store(server.urls, timeout=1.0)
    with pytest.raises(StoreError) as no_answer:
        gone.export("furnace_furnace_temp")
    assert no_answer.value.status is None
    assert str(no_answer.value).startswith(f"VictoriaMetrics at {server.url} does not answer: ")
