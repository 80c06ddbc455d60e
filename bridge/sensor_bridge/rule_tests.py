"""The alert rules' unit tests, run with the real vmalert-tool (the tested VictoriaMetrics).

``run_rule_tests(site, workdir)`` writes the rendered rules and their test files
(``render.vmalert_tests``) to ``workdir`` and runs vmalert-tool on each file in turn: it keeps
its scratch storage in ``$TMPDIR/vmalert-unittest`` (a private TMPDIR here) and listens on the
fixed port :8880, so two runs at once would collide: each run holds a lock file in the system's
temp directory, and a second run waits for the first. The Pi's vmalert listens elsewhere
(``render.vmalert.PORT``).
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sensor_bridge.checks.tools import find_tool
from sensor_bridge.errors import BridgeError
from sensor_bridge.render import vmalert, vmalert_tests
from sensor_bridge.site import Site

TOOL = "vmalert-tool"
TIMEOUT_S = 600
LOCK_FILE = Path(tempfile.gettempdir()) / "sensor-bridge-vmalert-tool.lock"


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
    rules = workdir / "rules.yaml"
    rules.write_text(vmalert.rules_yaml(site))
    scratch = workdir / "tmp"
    scratch.mkdir(exist_ok=True)
    results = []
    for name, text in vmalert_tests.test_files(site, str(rules), day=day).items():
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
        cases = len(re.findall(r"^- name: ", text, re.MULTILINE))
        results.append(FileResult(name, passed, time.monotonic() - started, cases, output))
    return results
