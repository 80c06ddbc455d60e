"""A real InfluxDB 1.x (Debian's ``influxd``), started by a test or the demo in a directory of
its own: the legacy store ``sensor-bridge migrate influx`` reads from.

Everything on loopback (HTTP and the backup RPC port), no usage reporting, no ``_internal``
monitor database, no continuous queries; with ``auth`` it requires a login, and that user is
created as its admin (InfluxDB allows creating the first admin without one).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.local.tools import require_tool

START_TIMEOUT_S = 20.0


def config(directory: Path, http_port: int, rpc_port: int, *, auth: bool) -> str:
    """influxd's configuration: data under ``directory``, HTTP on 127.0.0.1:``http_port``."""
    return f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{directory / "meta"}"

[data]
  dir = "{directory / "data"}"
  wal-dir = "{directory / "wal"}"
  query-log-enabled = false

[http]
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = {"true" if auth else "false"}
  log-enabled = false

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
"""


class InfluxDB:
    """One ``influxd`` process on free loopback ports; ``auth``: (user, password) of its admin."""

    def __init__(self, workdir: Path, *, auth: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth = auth
        self._login: tuple[str, str] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        config_path = workdir / "influxdb.conf"
        config_path.write_text(config(workdir, self.port, free_port(), auth=auth is not None))
        self._service = Service(
            [require_tool("influxd"), "-config", config_path], workdir / "influxd.log"
        )

    def start(self) -> Self:
        self._service.start()
        if not self._service.wait_until(self._pings, START_TIMEOUT_S):
            output = self._service.output()[-2000:]
            self._service.stop()
            raise RuntimeError(f"influxd did not answer /ping; log: {output}")
        if self.auth is not None:
            user, password = self.auth
            self.query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES")
            self._login = self.auth
        return self

    def stop(self) -> None:
        self._service.stop()

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def write(self, database: str, lines: Iterable[str], precision: str = "ns") -> None:
        """Line-protocol ``lines`` into ``database`` (timestamps in ``precision``)."""
        params = urllib.parse.urlencode({"db": database, "precision": precision})
        body = "\n".join(lines).encode()
        self._request(f"/write?{params}", body, "text/plain")

    def query(self, statement: str, database: str | None = None) -> list[dict[str, Any]]:
        """The results of ``statement`` (times as ns since the epoch); RuntimeError on an error."""
        form = {"q": statement, "epoch": "ns", **({"db": database} if database else {})}
        body = urllib.parse.urlencode(form).encode()
        answer = json.loads(self._request("/query", body, "application/x-www-form-urlencoded"))
        results: list[dict[str, Any]] = answer["results"]
        for result in results:
            if "error" in result:
                raise RuntimeError(f"InfluxQL {statement!r}: {result['error']}")
        return results

    def _pings(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return bool(response.status == 204)
        except OSError:
            return False

    def _request(self, path: str, body: bytes, content_type: str) -> str:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method="POST")
        request.add_header("Content-Type", content_type)
        if self._login is not None:
            token = base64.b64encode(":".join(self._login).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text: str = response.read().decode()
                return text
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"InfluxDB {path}: {error.read().decode()[:500]}") from None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
