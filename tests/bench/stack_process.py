"""A LocalStack in a process of its own, so that what the benchmark itself does (publishing,
polling, running virtual boards) neither shares the pipeline's interpreter nor counts in its
memory: without Vector, the pipeline is the forwarder, which runs inside this process.

    python -m tests.bench.stack_process WORKDIR [--devices N]

prints one JSON line once every service is up (``broker_port``, ``vm_url``, ``pipeline``,
``pid``), starts vmalert when it reads the line ``rules``, and stops everything when its
stdin closes. ``StackProcess`` is the parent's side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Self

from sensor_bridge.local.stack import LocalStack
from sensor_bridge.store.client import Store
from sensor_bridge.store.urls import single_node
from tests.bench.chain import bench_context

STOP_TIMEOUT_S = 60.0


class StackProcess:
    """The child: ``info`` holds its JSON line once started."""

    def __init__(self, workdir: Path, devices: int = 0) -> None:
        self.workdir = workdir
        self.devices = devices
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen[str] | None = None

    @property
    def broker_port(self) -> int:
        return int(self.info["broker_port"])

    @property
    def store(self) -> Store:
        return Store(single_node(str(self.info["vm_url"])))

    @property
    def pid(self) -> int:
        return int(self.info["pid"])

    def start(self) -> Self:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.stack_process",
                str(self.workdir),
                "--devices",
                str(self.devices),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait()
            raise RuntimeError(f"the stack process exited ({self._proc.returncode}) unstarted")
        self.info = json.loads(line)
        return self

    def start_rules(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write("rules\n")
        self._proc.stdin.flush()

    def stop(self) -> None:
        if self._proc is None:
            return
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--devices", type=int, default=0, help="bench devices (0: the example's)")
    args = parser.parse_args()
    context = bench_context(args.workdir / "site", args.devices)
    with LocalStack(context, args.workdir, defer_rules=True) as stack:
        info = {
            "broker_port": stack.broker_port,
            "vm_url": stack.storage.url,
            "pipeline": stack.pipeline_kind,
            "pid": os.getpid(),
        }
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            if line.strip() == "rules":
                stack.start_rules()
    return 0


if __name__ == "__main__":
    sys.exit(main())
