"""The staged files through the real checkers, before anything live is touched.

Only the services with a changed file are checked (a threshold edit does not re-run the
broker's check). On the Pi every file must have been checked by a real tool: the deploy
installs every tool first, so a check that could not run is a failure there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, UNAVAILABLE, CheckResult, checkers
from sensor_bridge.render import RenderedFile


def checker_names(changed: Sequence[RenderedFile], files: Sequence[RenderedFile]) -> list[str]:
    """The checkers of every service with a changed file (a file without its own check, such as
    an ACL, is checked with its service's)."""
    services = {f.service for f in changed}
    return sorted({f.check for f in files if f.service in services and f.check is not None})


def run_checks(
    staging: Path, files: Sequence[RenderedFile], changed: Sequence[RenderedFile]
) -> list[CheckResult]:
    table = checkers()
    results: list[CheckResult] = []
    for name in checker_names(changed, files):
        results += table[name](staging, files)
    return results


def failures(results: Sequence[CheckResult], *, every_tool: bool) -> list[CheckResult]:
    """Every failed check; with ``every_tool`` (the Pi) also each file no tool could check.

    A file one real tool passed may lack another's check: on the Pi, Vector's own ``vector
    validate`` checks the VRL that vrl-python (a test-machine stand-in, not installed there) would.
    """
    failed = [r for r in results if r.result == FAILED]
    if every_tool:
        passed = {r.file for r in results if r.result == OK}
        failed += [
            r for r in results if r.result in (NOT_CHECKED, UNAVAILABLE) and r.file not in passed
        ]
    return failed


@contextmanager
def tools_first_on_path(directory: Path) -> Iterator[None]:
    """``directory`` searched before PATH while the checkers run."""
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{directory}{os.pathsep}{saved}"
    try:
        yield
    finally:
        os.environ["PATH"] = saved
