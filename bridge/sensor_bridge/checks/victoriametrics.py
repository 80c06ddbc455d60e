"""VictoriaMetrics: start the real binary with the flags of the rendered quadlet's ``Exec=``.

The container's listen address and data path are replaced by a free loopback port and a temp
dir; every other flag is passed as rendered, so a retention, dedup or latency value the binary
refuses fails here. OK when ``/health`` answers ``OK``.
"""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, CheckResult
from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.checks.tools import find_tool, tool_version
from sensor_bridge.registry import VICTORIAMETRICS
from sensor_bridge.render import RenderedFile
from sensor_bridge.store.client import Store
from sensor_bridge.store.urls import single_node

NAME = VICTORIAMETRICS.name
TOOL = "victoria-metrics"
START_TIMEOUT_S = 20.0
# Flags that only make sense inside the container; the checker sets its own.
_PLACED = ("-httpListenAddr", "-storageDataPath")


def unit_values(text: str, section: str, key: str) -> list[str]:
    """Every value of ``key`` in ``[section]`` of a systemd-style unit, continuations joined."""
    values: list[str] = []
    current = ""
    pending: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if pending is not None:
            pending.append(line.removesuffix("\\").strip())
            if not line.endswith("\\"):
                values.append(" ".join(pending))
                pending = None
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current == section and line.partition("=")[0].strip() == key:
            value = line.partition("=")[2].strip()
            if value.endswith("\\"):
                pending = [value.removesuffix("\\").strip()]
            else:
                values.append(value)
    return values


def rendered_flags(unit_text: str) -> list[str]:
    """The arguments the quadlet passes to the VictoriaMetrics binary."""
    return [
        arg for value in unit_values(unit_text, "Container", "Exec") for arg in shlex.split(value)
    ]


def runnable_flags(unit_text: str, port: int, data_dir: Path) -> list[str]:
    """The rendered flags, listening on 127.0.0.1:port with its data in ``data_dir``."""
    kept = [arg for arg in rendered_flags(unit_text) if arg.partition("=")[0] not in _PLACED]
    return [f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={data_dir}", *kept]


def check(root: Path, files: Sequence[RenderedFile]) -> list[CheckResult]:
    return [_check_unit(unit) for unit in files if unit.check == NAME]


def _check_unit(unit: RenderedFile) -> CheckResult:
    tool = find_tool(TOOL)
    if tool is None:
        return CheckResult(str(unit.path), TOOL, "-", NOT_CHECKED, "run scripts/tool-cache")
    version = tool_version(tool)
    with tempfile.TemporaryDirectory(prefix="check-victoriametrics-") as tmp:
        port = free_port()
        flags = runnable_flags(unit.text, port, Path(tmp) / "data")
        server = Service([tool, *flags], Path(tmp) / "victoria-metrics.log")
        with server:
            store = Store(single_node(f"http://127.0.0.1:{port}"), timeout=1.0)
            ok = server.wait_until(store.healthy, START_TIMEOUT_S)
        errors = server.error_lines(r"FATAL|flag provided|invalid value")
    if ok:
        kept = " ".join(flags[2:])
        return CheckResult(str(unit.path), TOOL, version, OK, f"/health OK with {kept}")
    return CheckResult(str(unit.path), TOOL, version, FAILED, errors[0] if errors else "no /health")
