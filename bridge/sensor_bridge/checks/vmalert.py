"""vmalert: the rendered rules, parsed and their expressions and templates validated by the
real ``vmalert -dryRun`` (the version the quadlet's image pins)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, CheckResult
from sensor_bridge.checks.tools import find_tool, tool_version
from sensor_bridge.registry import VMALERT
from sensor_bridge.render import RenderedFile

NAME = VMALERT.name
TIMEOUT_S = 60


def check(root: Path, files: Sequence[RenderedFile]) -> list[CheckResult]:
    return [_check_rules(root, f) for f in files if f.check == NAME]


def _check_rules(root: Path, rules: RenderedFile) -> CheckResult:
    tool = find_tool(NAME)
    if tool is None:
        return CheckResult(str(rules.path), NAME, "-", NOT_CHECKED, "run scripts/tool-cache")
    run = subprocess.run(
        [str(tool), "-dryRun", f"-rule={root / rules.path}", "-loggerLevel=ERROR"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,  # a refused file is a result, not an exception
    )
    version = tool_version(tool)
    if run.returncode == 0:
        return CheckResult(str(rules.path), NAME, version, OK, "vmalert -dryRun")
    lines = [line for line in (run.stderr + run.stdout).splitlines() if line.strip()]
    detail = lines[-1] if lines else f"vmalert -dryRun exited {run.returncode}"
    return CheckResult(str(rules.path), NAME, version, FAILED, detail.replace(str(root), ""))
