"""The channel between the VM and the host: one TCP loopback connection per VM run.

The VM's side is ``device/_vboard.py``. Each line the VM sends is a JSON list
``[op, args...]``. A call (``CALLS``) gets one reply line, ``=<json>`` or
``E<json [type, message]>``; every other op is not answered, and the stream keeps it in
order with the calls (an SPI write lands before the read that follows it). The host pushes
``!<json ["net", link, delay_s]>`` whenever the network as the board sees it changes, so the
VM's socketpool and wifi need no round trip to know it, and ``!["heap"]`` when the control
socket asks for the heap (the VM collects and answers with a ``heap`` message).

Round trips are what cost time on the VM; ``Traffic`` counts them per main-loop iteration
(the firmware feeds the watchdog once per iteration).
"""

import json
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from sensor_bridge.virtual.vm.rig import DeviceError, Rig

PUSH_POLL_S = 0.02
"""How often the network state is compared with what the VM was last told."""

HEAP_WAIT_S = 5.0
"""How long the control socket's ``heap`` waits: the program polls once per loop iteration."""

CALLS = frozenset(
    {"hello", "pin_level", "spi", "adc", "nvm_read", "cpu_temperature", "wifi_connect",
     "radio_enabled", "ap_info", "getenv", "previous_traceback"}
)  # fmt: skip


class Host(Protocol):
    """What the engine answers for the channel besides the parts of the rig."""

    rig: Rig

    def hello(self, token: str) -> dict[str, Any] | None: ...

    def handlers(self, token: str) -> dict[str, Callable[..., Any]]: ...


class Traffic:
    """Messages per main-loop iteration (between two watchdog feeds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.sends = 0
        self.feeds = 0
        self._calls_at_feed = 0
        self._sends_at_feed = 0
        self.max_calls_per_iteration = 0
        self.max_sends_per_iteration = 0
        self.by_op: Counter[str] = Counter()

    def count(self, op: str) -> None:
        with self._lock:
            self.by_op[op] += 1
            if op in CALLS:
                self.calls += 1
            else:
                self.sends += 1
            if op == "feed":
                if self.feeds:
                    self.max_calls_per_iteration = max(
                        self.max_calls_per_iteration, self.calls - self._calls_at_feed
                    )
                    self.max_sends_per_iteration = max(
                        self.max_sends_per_iteration, self.sends - self._sends_at_feed
                    )
                self.feeds += 1
                self._calls_at_feed = self.calls
                self._sends_at_feed = self.sends

    def summary(self) -> dict[str, Any]:
        with self._lock:
            iterations = max(1, self.feeds - 1)
            return {
                "calls": self.calls,
                "sends": self.sends,
                "feeds": self.feeds,
                "calls_per_iteration": round(self._calls_at_feed / iterations, 2)
                if self.feeds > 1
                else None,
                "sends_per_iteration": round(self._sends_at_feed / iterations, 2)
                if self.feeds > 1
                else None,
                "max_calls_per_iteration": self.max_calls_per_iteration,
                "max_sends_per_iteration": self.max_sends_per_iteration,
                "by_op": dict(self.by_op),
            }


class ChannelServer:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(4)
        self.port: int = self._listener.getsockname()[1]
        self.traffic = Traffic()
        self.session: Session | None = None
        """The running program's connection (not a heap probe's)."""

    def start(self) -> None:
        threading.Thread(target=self._accept, name="vm-channel", daemon=True).start()

    def _accept(self) -> None:
        while True:
            connection, _ = self._listener.accept()
            session = Session(connection, self._host, self.traffic, self)
            threading.Thread(target=session.run, name="vm-session", daemon=True).start()


class Session:
    """One VM run's connection."""

    def __init__(
        self, connection: socket.socket, host: Host, traffic: Traffic, server: ChannelServer
    ) -> None:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connection = connection
        self._host = host
        self._traffic = traffic
        self._server = server
        self._write_lock = threading.Lock()
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._pushed: list[Any] | None = None
        self._probe = False
        self._closed = False
        self.done = threading.Event()
        """Set once the VM's side closed and every line it sent was handled."""

    def run(self) -> None:
        with self._connection, self._connection.makefile("rb") as stream:
            for raw in stream:
                try:
                    op, *args = json.loads(raw)
                except ValueError:
                    print(f"VIRTUAL vm channel: bad line {raw[:80]!r}", file=sys.stderr)
                    continue
                if not self._handle(op, args):
                    break
        self._closed = True
        self.done.set()

    def _handle(self, op: str, args: list[Any]) -> bool:
        if op == "hello":
            config = self._host.hello(str(args[0]))
            if config is None:
                return False
            self._probe = bool(config["probe"])
            self._handlers = self._host.handlers(str(args[0]))
            self._pushed = ["net", config["link"], config["delay_s"]]
            if not self._probe:
                self._server.session = self
            self._reply(config)
            threading.Thread(target=self._push, name="vm-push", daemon=True).start()
            return True
        handler = self._handlers.get(op)
        if handler is None:
            print(f"VIRTUAL vm channel: unknown op {op!r}", file=sys.stderr)
            if op in CALLS:
                self._error("RuntimeError", f"the host does not know {op!r}")
            return True
        if not self._probe:
            self._traffic.count(op)
        try:
            result = handler(*args)
        except DeviceError as failure:
            self._error(failure.kind, failure.text)
            return True
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            print(f"VIRTUAL vm channel: {op}{tuple(args)!r} failed: {exc!r}", file=sys.stderr)
            if op in CALLS:
                self._error("RuntimeError", f"{op}: {exc}")
            return True
        if op in CALLS:
            self._reply(result)
        return True

    def _reply(self, value: Any) -> None:
        self._write(b"=" + json.dumps(value).encode() + b"\n")

    def _error(self, kind: str, text: str) -> None:
        self._write(b"E" + json.dumps([kind, text]).encode() + b"\n")

    def _write(self, line: bytes) -> None:
        with self._write_lock:
            try:
                self._connection.sendall(line)
            except OSError:
                self._closed = True

    def _push(self) -> None:
        """Tell the VM whenever the link (as the board sees it) or the delay changes."""
        net = self._host.rig.board.net
        while not self._closed:
            state = ["net", net.link(), net.delay_s]
            if state != self._pushed:
                self._pushed = state
                self.push(state)
            time.sleep(PUSH_POLL_S)

    def push(self, message: list[Any]) -> None:
        self._write(b"!" + json.dumps(message).encode() + b"\n")
