"""Running a virtual board as a subprocess, for tests, the demo and the HIL suite.

    with VirtualBoardProcess(drive, speed=20) as board:
        board.wait_for(r"INFO boot ", timeout=10)
        board.control.send({"cmd": "net", "state": "down"})

The console (stdout) and the board's own stderr are collected line by line by reader
threads. ``stop`` always reaps the process, whatever state it is in. ``engine="vm"`` runs
the drive on CircuitPython's own VM (``sensor_bridge.virtual.vm``; real time only).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from sensor_bridge.virtual.control import VirtualBoardControl
from sensor_bridge.virtual.handoff import ENV_VAR

STOP_GRACE_S = 5.0
TAIL_LINES = 25

LinePattern = str | re.Pattern[str] | Callable[[str], object]


class BoardExitedError(RuntimeError):
    """The board process ended while a line was awaited."""


class VirtualBoardProcess:
    def __init__(
        self,
        drive: str | Path,
        *,
        board: str | None = None,
        speed: float = 1.0,
        watchdog: str = "fail",
        scenario: str | Path | list[dict[str, Any]] | None = None,
        epoch: float | None = None,
        engine: str = "cpython",
        extra_args: Iterable[str] = (),
    ) -> None:
        self.drive = Path(drive)
        self._board = board
        self._speed = speed
        self._watchdog = watchdog
        self._scenario = scenario
        self._epoch = epoch
        self._engine = engine
        self._extra_args = list(extra_args)
        self._tmp: Path | None = None
        self._process: subprocess.Popen[str] | None = None
        self._readers: list[threading.Thread] = []
        self._changed = threading.Condition()
        self.lines: list[str] = []
        """Console lines (stdout), without line endings."""
        self.stderr_lines: list[str] = []
        """The board's own lines (``VIRTUAL ...``) and anything else on stderr."""

    # --- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> "VirtualBoardProcess":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def control_path(self) -> Path:
        if self._tmp is None:
            raise RuntimeError("the board is not started")
        return self._tmp / "control.sock"

    def command(self) -> list[str]:
        """The command line that starts the board."""
        args = [sys.executable, "-m", "sensor_bridge.virtual", "--drive", str(self.drive)]
        args += ["--control", str(self.control_path), "--speed", repr(float(self._speed))]
        args += ["--watchdog", self._watchdog]
        if self._engine != "cpython":
            args += ["--engine", self._engine]
        if self._board is not None:
            args += ["--board", self._board]
        if self._epoch is not None:
            args += ["--epoch", repr(float(self._epoch))]
        if self._scenario is not None:
            args += ["--scenario", str(self._scenario_file())]
        return args + self._extra_args

    def start(self) -> "VirtualBoardProcess":
        if self._process is not None:
            raise RuntimeError("the board is already started")
        self._tmp = Path(tempfile.mkdtemp(prefix="vboard-"))
        env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        for stream, sink in (
            (self._process.stdout, self.lines),
            (self._process.stderr, self.stderr_lines),
        ):
            reader = threading.Thread(
                target=self._read, args=(stream, sink), name="vboard-reader", daemon=True
            )
            reader.start()
            self._readers.append(reader)
        return self

    def stop(self) -> int | None:
        """Terminate (then kill) the board and reap it; idempotent."""
        process = self._process
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for reader in self._readers:
                reader.join(STOP_GRACE_S)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        return self.returncode

    def kill(self, timeout: float = 10.0) -> int:
        """Kill the board from inside (no socket closes cleanly) and wait for it to end."""
        self.control.send({"cmd": "kill"})
        return self.wait(timeout)

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the board to end by itself (watchdog failure, kill); its exit status."""
        if self._process is None:
            raise RuntimeError("the board is not started")
        return self._process.wait(timeout)

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    # --- control ----------------------------------------------------------------------

    @property
    def control(self) -> VirtualBoardControl:
        """The control client, once the board has opened its socket (waits up to 10 s)."""
        deadline = time.monotonic() + 10.0
        while not self.control_path.exists():
            if self.returncode is not None:
                raise BoardExitedError(self._describe("the board exited before its control socket"))
            if time.monotonic() > deadline:
                raise TimeoutError(self._describe("no control socket after 10 s"))
            time.sleep(0.01)
        return VirtualBoardControl(self.control_path)

    def status(self) -> dict[str, Any]:
        return self.control.send({"cmd": "status"})

    # --- console ----------------------------------------------------------------------

    def mark(self) -> int:
        """The number of console lines so far: pass it as ``since`` to wait for newer ones."""
        with self._changed:
            return len(self.lines)

    def wait_for(
        self, pattern: LinePattern, timeout: float = 10.0, *, since: int = 0, stderr: bool = False
    ) -> str:
        """The first line (index >= ``since``) matching a regex or a predicate."""
        matches = _matcher(pattern)
        sink = self.stderr_lines if stderr else self.lines
        deadline = time.monotonic() + timeout
        index = since
        with self._changed:
            while True:
                while index < len(sink):
                    line = sink[index]
                    index += 1
                    if matches(line):
                        return line
                if not any(reader.is_alive() for reader in self._readers):
                    raise BoardExitedError(
                        self._describe(f"exited before a line matched {pattern!r}")
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        self._describe(f"no line matched {pattern!r} in {timeout} s")
                    )
                self._changed.wait(remaining)

    def _read(self, stream: TextIO, sink: list[str]) -> None:
        for line in stream:
            with self._changed:
                sink.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _scenario_file(self) -> Path:
        if isinstance(self._scenario, list):
            assert self._tmp is not None
            path = self._tmp / "scenario.json"
            path.write_text(json.dumps(self._scenario), encoding="utf-8")
            return path
        return Path(str(self._scenario))

    def _describe(self, problem: str) -> str:
        with self._changed:
            out = self.lines[-TAIL_LINES:]
            err = self.stderr_lines[-TAIL_LINES:]
        return (
            f"virtual board {problem} (returncode {self.returncode})\n"
            + "--- console (last lines) ---\n"
            + "\n".join(out)
            + "\n--- stderr (last lines) ---\n"
            + "\n".join(err)
        )


def _matcher(pattern: LinePattern) -> Callable[[str], object]:
    if isinstance(pattern, re.Pattern):
        return pattern.search
    if isinstance(pattern, str):
        return re.compile(pattern).search
    return pattern
