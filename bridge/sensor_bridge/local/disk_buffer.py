"""A disk buffer with the semantics Vector documents for its own, for the forwarder's sinks.

From Vector's buffering model (website/content/en/docs/architecture/buffering-model.md, "Disk
buffers" and "When full" behavior):

* every event is written to the buffer's files before it is read back out (a write-ahead log),
  so what waits survives a stop and a start of the process;
* events come out in the order they went in;
* ``max_size`` bytes are adhered to rigidly;
* ``when_full``: ``block`` waits for room (backpressure), ``drop_newest`` drops the event that
  does not fit;
* a data file is deleted once it has been processed fully: here, a record is removed only when
  the sink acknowledges it (``ack``), so a send that fails is tried again with the same record.

One file per record, named by its sequence number; the size counted is the records' bytes.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Literal

WhenFull = Literal["block", "drop_newest"]
_SUFFIX = ".rec"


class DiskBuffer:
    """FIFO of byte records under ``directory``, at most ``max_bytes`` of them."""

    def __init__(self, directory: Path, max_bytes: int, when_full: WhenFull) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.max_bytes = max_bytes
        self.when_full = when_full
        self.dropped = 0
        self._changed = threading.Condition()
        self._closed = False
        # What an earlier run left is still to be sent, first.
        self._records = sorted(int(p.stem) for p in directory.glob(f"*{_SUFFIX}"))
        self._bytes = sum(self._path(number).stat().st_size for number in self._records)

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:016d}{_SUFFIX}"

    @property
    def size_bytes(self) -> int:
        with self._changed:
            return self._bytes

    def __len__(self) -> int:
        with self._changed:
            return len(self._records)

    def push(self, record: bytes) -> bool:
        """Append ``record``; False when ``drop_newest`` dropped it."""
        if len(record) > self.max_bytes:
            raise ValueError(f"a record of {len(record)} bytes can never fit {self.max_bytes}")
        with self._changed:
            while self._bytes + len(record) > self.max_bytes:
                if self.when_full == "drop_newest":
                    self.dropped += 1
                    return False
                if self._closed:
                    raise RuntimeError("the buffer was closed while full")
                self._changed.wait(0.2)
            number = self._records[-1] + 1 if self._records else 0
            path = self._path(number)
            temporary = path.with_suffix(".tmp")
            with temporary.open("wb") as handle:
                handle.write(record)
                handle.flush()
                os.fsync(handle.fileno())
            # Complete or absent: a record is never read half-written.
            temporary.rename(path)
            self._records.append(number)
            self._bytes += len(record)
            self._changed.notify_all()
            return True

    def oldest(self, timeout: float) -> bytes | None:
        """The oldest unacknowledged record, waiting up to ``timeout`` s for one."""
        with self._changed:
            if not self._records:
                self._changed.wait(timeout)
            if not self._records:
                return None
            return self._path(self._records[0]).read_bytes()

    def ack(self) -> None:
        """The oldest record reached its destination: remove it."""
        with self._changed:
            number = self._records.pop(0)
            path = self._path(number)
            self._bytes -= path.stat().st_size
            path.unlink()
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
