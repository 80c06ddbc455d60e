"""The control socket: a Unix socket speaking JSON lines, one reply line per request."""

import json
import socket
import threading
from pathlib import Path

from sensor_bridge.virtual.commands import Commands


class ControlServer:
    def __init__(self, path: Path, commands: Commands) -> None:
        self._path = path
        self._commands = commands
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def start(self) -> None:
        # A previous boot of this board (or a crashed one) leaves its socket file behind.
        if self._path.exists() or self._path.is_symlink():
            self._path.unlink()
        self._listener.bind(str(self._path))
        self._listener.listen(8)
        threading.Thread(target=self._accept, name="virtual-control", daemon=True).start()

    def _accept(self) -> None:
        while True:
            connection, _ = self._listener.accept()
            threading.Thread(
                target=self._serve, args=(connection,), name="virtual-control-client", daemon=True
            ).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rwb") as stream:
            for raw in stream:
                try:
                    request = json.loads(raw)
                    if not isinstance(request, dict):
                        raise ValueError("a request is a JSON object")
                except ValueError as exc:
                    stream.write(_line({"ok": False, "error": f"bad request: {exc}"}))
                    stream.flush()
                    continue
                outcome = self._commands.handle(request)
                stream.write(_line(outcome.reply))
                stream.flush()
                if outcome.after is not None:
                    outcome.after()


def _line(reply: dict[str, object]) -> bytes:
    return json.dumps(reply).encode() + b"\n"
