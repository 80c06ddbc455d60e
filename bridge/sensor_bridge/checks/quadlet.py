"""Podman quadlets: expand every rendered quadlet with podman's own generator.

``quadlet -dryrun -user`` with ``QUADLET_UNIT_DIRS`` set to a rendered quadlet dir converts each
unit there into the systemd service it would become and prints it, or names the unit and the
key it rejects. Every quadlet file in the tree is checked, whichever service renders it.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, CheckResult
from sensor_bridge.checks.tools import find_tool, tool_version
from sensor_bridge.render import RenderedFile

NAME = "quadlet"
TOOL = "podman quadlet"
QUADLET_SUFFIXES = (".container", ".volume", ".network", ".kube", ".image", ".pod", ".build")
TIMEOUT_S = 30


def check(root: Path, files: Sequence[RenderedFile]) -> list[CheckResult]:
    units = [f for f in files if f.path.suffix in QUADLET_SUFFIXES]
    if not units:
        return []
    tool = find_tool("quadlet")
    if tool is None:
        hint = "run scripts/tool-cache (Debian 13: apt-get install podman)"
        return [CheckResult(str(u.path), TOOL, "-", NOT_CHECKED, hint) for u in units]
    version = tool_version(tool)
    results = []
    for directory in sorted({u.path.parent for u in units}):
        in_dir = [u for u in units if u.path.parent == directory]
        results += _check_dir(tool, version, root, directory, in_dir)
    return results


def _check_dir(
    tool: Path, version: str, root: Path, directory: PurePosixPath, units: list[RenderedFile]
) -> list[CheckResult]:
    run = subprocess.run(
        [str(tool), "-dryrun", "-user", "-no-kmsg-log"],
        # The generator ignores a relative unit dir.
        env={**os.environ, "QUADLET_UNIT_DIRS": str((root / directory).resolve())},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,  # a rejected unit is reported per file below
    )
    generated = set(re.findall(r"^---(.+)---$", run.stdout, re.MULTILINE))
    results = []
    for unit in units:
        service = _service_name(unit.path.name)
        if service in generated:
            results.append(CheckResult(str(unit.path), TOOL, version, OK, f"expands to {service}"))
            continue
        errors = [line for line in run.stderr.splitlines() if f'"{unit.path.name}"' in line]
        detail = (
            _unprefixed(errors[0]).replace(str(root.resolve()), "")
            if errors
            else f"no {service} generated (rc {run.returncode})"
        )
        results.append(CheckResult(str(unit.path), TOOL, version, FAILED, detail))
    return results


def _service_name(unit_name: str) -> str:
    stem, suffix = unit_name.rsplit(".", 1)
    # Quadlet names the services of volumes, networks, ... after their type.
    return f"{stem}.service" if suffix in ("container", "kube") else f"{stem}-{suffix}.service"


def _unprefixed(line: str) -> str:
    """An error line without the ``quadlet-generator[pid]: `` prefix."""
    return re.sub(r"^quadlet-generator\[\d+\]: ", "", line)
