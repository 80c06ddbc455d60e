"""The store client: everything the host asks VictoriaMetrics over HTTP, in one place.

``Store(urls)`` works the same against the Pi's single node and against one tenant of a
cluster (``store.urls``). Reads pass ``latency_offset`` and ``nocache``: VictoriaMetrics would
otherwise hide samples newer than its latency offset and answer from a cache made before a
backfill, and every reader here (status, the data-flow check, migration, tests) wants what is
stored. A refusal or a store that does not answer raises ``StoreError`` (one line).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

from sensor_bridge.errors import BridgeError
from sensor_bridge.store.urls import StoreUrls

TIMEOUT_S = 10.0
EXPORT_TIMEOUT_S = 300.0
"""An export streams a series' whole history: years of samples on a Pi."""
EXPORT_ROWS_PER_LINE = 100_000
"""Bounds the memory one export line takes, whatever the series' length."""
CLUSTER_FLUSH_S = 5.0
"""A cluster's vmstorage makes new samples searchable by itself within its pending-rows
interval (1-2 s) and has them on disk within ``dataFlushInterval`` (5 s), both in
lib/storage/partition.go; vminsert and vmselect cannot ask it to do so sooner."""
_DEDUP_FLAG = re.compile(r'^-dedup\.minScrapeInterval="?([^"\s]*)"?\s*$', re.MULTILINE)
_REFUSAL_CHARS = 300


class StoreError(BridgeError):
    """VictoriaMetrics refused a request (``status``: its HTTP status) or did not answer
    (``status`` None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Store:
    """VictoriaMetrics at ``urls``; ``timeout`` bounds each request but an export."""

    def __init__(self, urls: StoreUrls, timeout: float = TIMEOUT_S) -> None:
        self.urls = urls
        self.timeout = timeout

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        """The instant query ``expr`` at ``at`` (Unix seconds): ``{"metric", "value":
        [time, "value"]}`` each. 1 ms is the smallest latency offset it accepts."""
        params = {"query": expr, "time": f"{at:.3f}", "latency_offset": "1ms", "nocache": "1"}
        text = self._get(self.urls.query, params, "the query")
        try:
            result: list[dict[str, Any]] = json.loads(text)["data"]["result"]
        except (ValueError, KeyError, TypeError) as error:
            raise self._unreadable("the query", error) from None
        return result

    def export(
        self, match: str, start: float | None = None, end: float | None = None
    ) -> list[dict[str, Any]]:
        """The raw samples (after deduplication) of every series ``match`` selects, between
        ``start`` and ``end`` (Unix seconds, inclusive; None: no bound): ``{"metric",
        "values", "timestamps"}`` each, a long series in several lines."""
        return list(self.export_lines(match, start, end))

    def export_lines(
        self, match: str, start: float | None = None, end: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """``export``, read as it comes: for years of samples, which would not fit in memory."""
        params = {"match[]": match, "max_rows_per_line": str(EXPORT_ROWS_PER_LINE)}
        bounds = (("start", start), ("end", end))
        params |= {key: f"{at:.3f}" for key, at in bounds if at is not None}
        url = f"{self.urls.export}?{urllib.parse.urlencode(params)}"
        with self._open(urllib.request.Request(url), "the export", EXPORT_TIMEOUT_S) as answer:
            try:
                for line in answer:
                    if line.strip():
                        yield json.loads(line)
            except OSError as error:
                raise self._no_answer(error) from None
            except ValueError as error:
                raise self._unreadable("the export", error) from None

    def import_lines(self, body: bytes) -> None:
        """Store JSON lines in the export's format (``{"metric", "values", "timestamps"}``)."""
        request = urllib.request.Request(self.urls.import_json, data=body, method="POST")
        with self._open(request, "the import", self.timeout):
            pass

    def flush(self) -> None:
        """Make everything written so far searchable now."""
        if self.urls.force_flush is None:
            time.sleep(CLUSTER_FLUSH_S)
            return
        self._get(self.urls.force_flush, {}, "the flush")

    def reset_cache(self) -> None:
        """Drop cached query results that predate a backfill."""
        self._get(self.urls.reset_cache, {}, "the cache reset")

    def healthy(self) -> bool:
        """Whether every node answers ``/health`` with OK."""
        for url in self.urls.health:
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as answer:
                    if answer.status != 200 or answer.read().strip() != b"OK":
                        return False
            except OSError:
                return False
        return True

    def dedup_interval(self) -> str | None:
        """``-dedup.minScrapeInterval`` of the node that answers reads (None: unset)."""
        found = _DEDUP_FLAG.search(self._get(self.urls.flags, {}, "its flags"))
        if found is None or found.group(1) in ("", "0", "0s", "0ms"):
            return None
        return found.group(1)

    def _get(self, url: str, params: Mapping[str, str], what: str) -> str:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with self._open(urllib.request.Request(url + query), what, self.timeout) as answer:
            try:
                text: str = answer.read().decode()
            except OSError as error:
                raise self._no_answer(error) from None
            return text

    def _open(self, request: urllib.request.Request, what: str, timeout: float) -> Any:
        try:
            return urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            said = " ".join(error.read().decode(errors="replace").split())[:_REFUSAL_CHARS]
            raise StoreError(
                f"VictoriaMetrics at {self.urls} refused {what}: {error.code} {said}", error.code
            ) from None
        except (OSError, ValueError) as error:
            raise self._no_answer(error) from None

    def _no_answer(self, error: Exception) -> StoreError:
        return StoreError(f"VictoriaMetrics at {self.urls} does not answer: {error}")

    def _unreadable(self, what: str, error: Exception) -> StoreError:
        return StoreError(f"VictoriaMetrics at {self.urls} answered {what} unreadably: {error!r}")
