"""The rules' unit tests as vmalert-tool files, and their run with the real vmalert-tool (the
tested VictoriaMetrics).

``test_files(site, rules_file)`` returns ``{file name: YAML text}``: the event cases
(``cases``), one file per evaluation interval, and the 24-hour firing.

``run_rule_tests(site, workdir)`` writes the rendered rules and their test files to ``workdir``
and runs vmalert-tool on each file in turn: it keeps its scratch storage in
``$TMPDIR/vmalert-unittest`` (a private TMPDIR here) and listens on the fixed port :8880, so two
runs at once would collide: each run holds a lock file in the system's temp directory, and a
second run waits for the first. The Pi's vmalert listens elsewhere (``render.vmalert.PORT``).
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from sensor_bridge.alerting import rules
from sensor_bridge.alerting.cases import cases, normal_day
from sensor_bridge.alerting.series import DAY_STEP_S, Case, Expect
from sensor_bridge.checks.tools import find_tool
from sensor_bridge.errors import BridgeError
from sensor_bridge.site import Site

TOOL = "vmalert-tool"
TIMEOUT_S = 600
LOCK_FILE = Path(tempfile.gettempdir()) / "sensor-bridge-vmalert-tool.lock"
DAY_FILE = "alerts-test-24h.yaml"


@dataclass(frozen=True)
class FileResult:
    file: str
    passed: bool
    seconds: float
    cases: int
    output: str


def run_rule_tests(site: Site, workdir: Path, *, day: bool = True) -> list[FileResult]:
    tool = find_tool(TOOL)
    if tool is None:
        raise BridgeError(f"{TOOL} is not installed: run scripts/tool-cache")
    rules_file = workdir / "rules.yaml"
    rules_file.write_text(rules.rules_yaml(site))
    scratch = workdir / "tmp"
    scratch.mkdir(exist_ok=True)
    results = []
    for name, text in test_files(site, str(rules_file), day=day).items():
        path = workdir / name
        path.write_text(text)
        started = time.monotonic()
        with LOCK_FILE.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            run = subprocess.run(
                [
                    str(tool),
                    "unittest",
                    f"--files={path}",
                    f"--external.label=studio={site.studio}",
                ],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                env={**os.environ, "TMPDIR": str(scratch)},
                check=False,  # a failing case is a result
            )
        output = (run.stdout + run.stderr).replace(str(workdir) + "/", "")
        passed = run.returncode == 0 and "SUCCESS" in output
        count = len(re.findall(r"^- name: ", text, re.MULTILINE))
        results.append(FileResult(name, passed, time.monotonic() - started, count, output))
    return results


def test_files(site: Site, rules_file: str, *, day: bool = True) -> dict[str, str]:
    """``{file name: vmalert-tool test file}``: the event cases (one file per evaluation
    interval), and the 24-hour firing."""
    found = cases(site)
    files = {
        f"alerts-test-{step}s.yaml": _file(
            rules_file, step, [case for case in found if case.step_s == step]
        )
        for step in sorted({case.step_s for case in found})
    }
    if day:
        files[DAY_FILE] = _file(rules_file, DAY_STEP_S, [normal_day(site, Expect(site))])
    return files


def _file(rules_file: str, interval_s: int, found: Iterable[Case]) -> str:
    data = {
        "rule_files": [rules_file],
        "evaluation_interval": f"{interval_s}s",
        "tests": [case.test() for case in found],
    }
    header = "# Rendered by sensor-bridge from the site file: the alert rules' unit tests.\n"
    text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1 << 16)
    return header + text
