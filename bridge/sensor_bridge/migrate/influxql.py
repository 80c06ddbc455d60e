"""Asking InfluxDB 1.x over its HTTP API (``/ping``, ``/query``): identifiers and strings quoted
for InfluxQL, times as integer nanoseconds (``epoch=ns``), the login in a Basic header (never in
the URL, which servers log)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from sensor_bridge.errors import BridgeError

TIMEOUT_S = 60.0


def identifier(name: str) -> str:
    """``name`` as a double-quoted InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string(value: str) -> str:
    """``value`` as a single-quoted InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def time_condition(start_ns: int | None, end_ns: int | None) -> str:
    """``WHERE`` terms for ``start_ns <= time <= end_ns`` (either bound may be open); ``""``
    for no bound at all."""
    terms = []
    if start_ns is not None:
        terms.append(f"time >= {start_ns}")
    if end_ns is not None:
        terms.append(f"time <= {end_ns}")
    return " WHERE " + " AND ".join(terms) if terms else ""


@dataclass(frozen=True)
class InfluxSource:
    """Where the legacy data is: server, database, retention policy, login (None: no auth)."""

    url: str
    database: str
    retention_policy: str = "autogen"
    auth: tuple[str, str] | None = None


class InfluxClient:
    """Read-only InfluxQL against one database of ``source``."""

    def __init__(self, source: InfluxSource, timeout: float = TIMEOUT_S) -> None:
        self.source = source
        self.timeout = timeout

    def ping(self) -> str:
        """The server's version (``X-Influxdb-Version``); BridgeError when it does not answer."""
        request = urllib.request.Request(f"{self.source.url}/ping")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return str(response.headers.get("X-Influxdb-Version", "?"))
        except OSError as error:
            raise BridgeError(f"InfluxDB at {self.source.url} does not answer: {error}") from None

    def query(self, statements: list[str]) -> list[list[dict[str, Any]]]:
        """The series each statement returns (``{"name", "tags", "columns", "values"}``), in
        order; BridgeError naming the statement InfluxDB refused."""
        if not statements:
            return []
        form = {
            "db": self.source.database,
            "rp": self.source.retention_policy,
            "epoch": "ns",
            "q": ";\n".join(statements),
        }
        request = urllib.request.Request(
            f"{self.source.url}/query",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        if self.source.auth is not None:
            token = base64.b64encode(":".join(self.source.auth).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace").strip()[:300]
            if error.code == 401:
                raise BridgeError(
                    f"InfluxDB at {self.source.url} refused the login ({detail}): set user and "
                    "password under [influxdb] in the secrets file, or $INFLUX_USERNAME and "
                    "$INFLUX_PASSWORD"
                ) from None
            raise BridgeError(f"InfluxDB at {self.source.url}: {detail}") from None
        except (OSError, ValueError) as error:
            raise BridgeError(f"cannot query InfluxDB at {self.source.url}: {error}") from None
        results: list[dict[str, Any]] = answer.get("results", [])
        if len(results) != len(statements):
            raise BridgeError(f"InfluxDB at {self.source.url}: {answer.get('error', answer)}")
        series: list[list[dict[str, Any]]] = []
        for statement, result in zip(statements, results, strict=True):
            if "error" in result:
                raise BridgeError(
                    f"InfluxDB ({self.source.database}) refused {statement!r}: {result['error']}"
                )
            series.append(result.get("series", []))
        return series
