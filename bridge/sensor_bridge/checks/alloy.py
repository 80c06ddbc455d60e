"""Grafana Alloy: ``alloy validate`` on the rendered config.alloy, with the environment of the
rendered /etc/default/alloy (the config reads its secrets with ``sys.env``).

Alloy is not installable from a test machine's package sources (Grafana's apt repository is
not among them): without an ``alloy`` binary on PATH the result is UNAVAILABLE, not a failure;
the deploy validates on the Pi, where the package is installed, before a swap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from sensor_bridge.checks import FAILED, OK, UNAVAILABLE, CheckResult
from sensor_bridge.render import RenderedFile
from sensor_bridge.render.alloy import CONFIG_PATH, DEFAULTS_PATH, NAME

TIMEOUT_S = 60


def check(root: Path, files: Sequence[RenderedFile]) -> list[CheckResult]:
    configs = [f for f in files if f.check == NAME and f.path == CONFIG_PATH]
    if not configs:
        return []
    (config,) = configs
    checked = [f for f in files if f.check == NAME]
    alloy = shutil.which(NAME)
    if alloy is None:
        hint = "no alloy binary on PATH (Grafana's apt repository; the Pi has it)"
        return [CheckResult(str(f.path), "alloy validate", "-", UNAVAILABLE, hint) for f in checked]
    version = _version(alloy)
    defaults = next((f for f in files if f.path == DEFAULTS_PATH), None)
    env = {**os.environ, **(environment(defaults.text) if defaults else {})}
    run = subprocess.run(
        [alloy, "validate", str(root / config.path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
        check=False,  # the verdict is the exit status, reported below
    )
    if run.returncode == 0:
        return [CheckResult(str(f.path), "alloy validate", version, OK) for f in checked]
    detail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-20:])
    return [CheckResult(str(f.path), "alloy validate", version, FAILED, detail) for f in checked]


def environment(text: str) -> dict[str, str]:
    """``KEY="value"`` lines of an EnvironmentFile (as rendered: no escapes inside quotes)."""
    pairs = (line.partition("=") for line in text.splitlines() if not line.startswith("#"))
    return {key: value.strip('"') for key, sep, value in pairs if sep}


def _version(alloy: str) -> str:
    run = subprocess.run(
        [alloy, "--version"], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    words = run.stdout.split()
    return words[2] if len(words) > 2 else "?"
