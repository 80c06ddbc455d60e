"""The CI test's broker, stopped and started by commands the HIL suite runs.

The test serves ``BrokerSwitch`` on a Unix socket; the suite's ``--broker-stop`` and
``--broker-start`` commands are ``python broker_switch.py SOCKET stop|start``, which ask it and
fail when the broker did not do it. (On a bench the commands are e.g. ``ssh pi sudo systemctl
stop mosquitto``.)
"""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path
from types import TracebackType

from sensor_bridge.local.broker import RenderedMosquitto


class BrokerSwitch:
    def __init__(self, broker: RenderedMosquitto, path: Path) -> None:
        self.path = path
        self._broker = broker
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def command(self, action: str) -> str:
        return f"{sys.executable} {Path(__file__).resolve()} {self.path} {action}"

    def __enter__(self) -> BrokerSwitch:
        self._listener.bind(str(self.path))
        self._listener.listen(2)
        threading.Thread(target=self._serve, name="broker-switch", daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection, connection.makefile("rw") as stream:
                action = stream.readline().strip()
                try:
                    {"stop": self._broker.stop, "start": self._broker.start}[action]()
                    stream.write("ok\n")
                except Exception as error:  # the suite shows the reason
                    stream.write(f"{action} failed: {error!r}\n")


def main(path: str, action: str) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(path)
        client.sendall(action.encode() + b"\n")
        reply = client.makefile().readline().strip()
    if reply != "ok":
        print(reply, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
