"""The client of a virtual board's control socket."""

import json
import socket
import time
from pathlib import Path
from typing import Any

RETRY_S = 0.02


class VirtualBoardControl:
    """``VirtualBoardControl(path).send({"cmd": "status"}) -> {"ok": True, ...}``.

    Connects per request. While the board re-executes (a reset) its socket is briefly
    gone: ``send`` retries for up to ``timeout`` seconds before giving up.
    """

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return self._exchange(request)
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(RETRY_S)

    def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(str(self.path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            with sock.makefile("rb") as stream:
                line = stream.readline()
        if not line:
            raise ConnectionError(f"virtual board at {self.path} closed without replying")
        reply = json.loads(line)
        if not isinstance(reply, dict):
            raise ValueError(f"virtual board replied {reply!r}")
        return reply
