"""A real service started by a checker: output kept in a file, always stopped afterwards."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

STOP_TIMEOUT_S = 10.0


class Service:
    """``argv`` running in the background, its stdout and stderr in ``output_path``."""

    def __init__(self, argv: Sequence[str | Path], output_path: Path) -> None:
        self.argv = [str(arg) for arg in argv]
        self.output_path = output_path
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.output_path.open("ab") as output:
            self._proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )
        return self

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float) -> bool:
        """Poll ``ready`` until it holds (True), or the service exits or time is up (False)."""
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            if ready():
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """SIGTERM (a service saves its state), SIGKILL if it does not end in time."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """A crash: no chance to save anything."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def error_lines(self, pattern: str) -> list[str]:
        """Output lines matching ``pattern`` (a regex), stripped of surrounding blanks."""
        matcher = re.compile(pattern)
        return [line.strip() for line in self.output().splitlines() if matcher.search(line)]

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_listening(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:port (TimeoutError if not)."""
    deadline = time.monotonic() + timeout
    while not listening(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")
        time.sleep(0.05)
