"""The record of chunks done, so that an interrupted migration resumes where it stopped.

One small JSON file per chunk, written (atomically: a temp file renamed) only after vmctl
finished the chunk and the proxy forwarded every sample the plan counted in it. The files live
in a directory named after a fingerprint of everything that decides what a chunk writes
(source, database, retention policy, target, the mapping table, the chunk length): change any
of them and no earlier record applies. A chunk re-run after an interruption rewrites samples
VictoriaMetrics already holds, which its deduplication stores once.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sensor_bridge.migrate.plan import Chunk
from sensor_bridge.site import InfluxMigration

STATE_ENV = "XDG_STATE_HOME"


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/sensor-bridge/migrate-influx``, else under ``~/.local/state``."""
    base = os.environ.get(STATE_ENV) or str(Path.home() / ".local" / "state")
    return Path(base) / "sensor-bridge" / "migrate-influx"


def fingerprint(config: InfluxMigration, source_url: str, database: str, vm_url: str) -> str:
    """12 hex digits that change whenever what the chunks write would change."""
    decisive: dict[str, Any] = {
        "source": source_url,
        "database": database,
        "retention_policy": config.retention_policy,
        "target": vm_url.rstrip("/"),
        "mapping": config.model_dump(mode="json", exclude={"url", "database"}),
    }
    text = json.dumps(decisive, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class ChunkLog:
    """The chunks done, one file each under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, chunk: Chunk) -> Path:
        return self.directory / f"chunk-{chunk.key}.json"

    def done(self, chunk: Chunk) -> dict[str, Any] | None:
        """The record of ``chunk`` if it was done with the samples it holds now, else None."""
        try:
            record: dict[str, Any] = json.loads(self._path(chunk).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return record if record.get("samples") == chunk.expected else None

    def record(self, chunk: Chunk, seconds: float) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        record = {
            "start": chunk.describe().split(" → ")[0],
            "end": chunk.describe().split(" → ")[1],
            "samples": chunk.expected,
            "seconds": round(seconds, 3),
            "done_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path = self._path(chunk)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, indent=2) + "\n")
        temporary.replace(path)

    def forget(self) -> int:
        """Drop every record (``--fresh``); how many there were."""
        records = list(self.directory.glob("chunk-*.json")) if self.directory.is_dir() else []
        for path in records:
            path.unlink()
        return len(records)
