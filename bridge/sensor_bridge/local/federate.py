"""The rendered ``alerts_from_victoriametrics`` source, for the forwarder: vmalert's ``ALERTS``
read from VictoriaMetrics' ``/federate`` and handed to the cloud sink.

As Vector's ``prometheus_scrape`` source (src/sources/prometheus/scrape.rs, parser.rs): GET each
endpoint every ``scrape_interval_secs`` with the ``query`` parameters appended, parse the text
exposition format, keep each sample's own timestamp (the scrape time when it has none) and,
with ``honor_labels``, the labels as they are.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
import urllib.request
from typing import Any, Protocol

from sensor_bridge.local.remote_write import Series

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class Sink(Protocol):
    def send(self, series: list[Series]) -> bool: ...


def parse_exposition(text: str, now_ms: int) -> list[Series]:
    """The samples of a Prometheus text exposition, one series each."""
    found = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if line.startswith("#") or match is None:
            continue
        name, labels, value, stamp = match.groups()
        parsed = {"__name__": name}
        for label in _LABEL.finditer(labels or ""):
            parsed[label.group(1)] = re.sub(
                r"\\[\\\"n]", lambda m: _ESCAPES[m.group(0)], label.group(2)
            )
        at = int(stamp) if stamp is not None else now_ms
        found.append(Series(parsed, [(at, float(value))]))
    return found


class Federation:
    """Scrapes the source's endpoint (the store's ``/federate``) into ``sink`` until stopped."""

    def __init__(self, source: dict[str, Any], sink: Sink) -> None:
        query = urllib.parse.urlencode(
            [(key, value) for key, values in source["query"].items() for value in values]
        )
        (endpoint,) = source["endpoints"]
        self.url = f"{endpoint}?{query}"
        self.interval_s = float(source["scrape_interval_secs"])
        self._sink = sink
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="federate", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def scrape(self) -> None:
        """One scrape; a store that does not answer is tried again at the next interval."""
        try:
            with urllib.request.urlopen(self.url, timeout=self.interval_s) as response:
                text = response.read().decode()
        except OSError:
            return
        series = parse_exposition(text, int(time.time() * 1000))
        if series:
            self._sink.send(series)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.scrape()
            self._stopping.wait(self.interval_s)
