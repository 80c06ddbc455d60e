"""monit: ``monit -t`` on the rendered control file with its rendered includes.

The control file and the conf.d files are copied to a temp dir (mode 0600: monit refuses a
control file others may read); the lines that name monit's own state (id, state and pid files,
log, event queue) and the include directory point into that dir, everything else is checked as
rendered. ``monit -t`` also refuses a ``check program`` whose program does not exist: one
that is not installed here (``sensor-bridge`` outside /usr/local/bin) is replaced by the same
name found on PATH, else by /bin/true, and the detail says so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, CheckResult
from sensor_bridge.checks.tools import find_tool, tool_version
from sensor_bridge.render import RenderedFile
from sensor_bridge.render.monit import CONTROL_PATH, NAME

TIMEOUT_S = 30
_STATE_LINES = re.compile(r"^(\s*)(set idfile|set statefile|set pidfile|set log|include)\s")
_EVENT_QUEUE = re.compile(r"^(set eventqueue basedir )\S+")
_PROGRAM = re.compile(r'^(check program \S+ with path ")(\S+)')


def check(root: Path, files: Sequence[RenderedFile]) -> list[CheckResult]:
    mine = [f for f in files if f.check == NAME]
    if not mine:
        return []
    tool = find_tool("monit")
    if tool is None:
        hint = "apt-get install monit (or run scripts/tool-cache)"
        return [CheckResult(str(f.path), NAME, "-", NOT_CHECKED, hint) for f in mine]
    version = tool_version(tool)
    with tempfile.TemporaryDirectory(prefix="check-monit-") as tmp:
        control, replaced = assemble(Path(tmp), mine)
        run = subprocess.run(
            [str(tool), "-t", "-c", str(control)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,  # the verdict is read from the exit status below
        )
        output = (run.stdout + run.stderr).replace(f"{tmp}/", "/").strip()
    if run.returncode == 0:
        detail = "Control file syntax OK"
        if replaced:
            detail += "; not installed here, checked in their place: " + ", ".join(replaced)
        return [CheckResult(str(f.path), NAME, version, OK, detail) for f in mine]
    errors = [line for line in output.splitlines() if "New Monit id" not in line]
    return [CheckResult(str(f.path), NAME, version, FAILED, "\n".join(errors[-5:])) for f in mine]


def assemble(workdir: Path, files: Sequence[RenderedFile]) -> tuple[Path, list[str]]:
    """Write the control file and its includes under ``workdir``; its path, and the programs
    replaced because they are not installed here."""
    include_dir = workdir / "conf.d"
    include_dir.mkdir()
    replaced: list[str] = []
    controls = [f for f in files if f.path == CONTROL_PATH]
    for included in (f for f in files if f.path != CONTROL_PATH):
        text = "\n".join(_installed(line, replaced) for line in included.text.splitlines())
        _write(include_dir / included.path.name, text + "\n")
    # Checking the conf.d file alone: a control file that only includes it.
    control_text = controls[0].text if controls else "include /etc/monit/conf.d/*\n"
    lines = [_placed(line, workdir, include_dir) for line in control_text.splitlines()]
    control = workdir / "monitrc"
    _write(control, "\n".join(lines) + "\n")
    return control, replaced


def _placed(line: str, workdir: Path, include_dir: Path) -> str:
    match = _STATE_LINES.match(line)
    if match:
        indent, keyword = match.groups()
        target = {
            "set idfile": workdir / "id",
            "set statefile": workdir / "state",
            "set pidfile": workdir / "monit.pid",
            "set log": workdir / "monit.log",
            "include": include_dir / "*",
        }[keyword]
        return f"{indent}{keyword} {target}"
    return _EVENT_QUEUE.sub(lambda m: f"{m.group(1)}{workdir / 'events'}", line)


def _installed(line: str, replaced: list[str]) -> str:
    match = _PROGRAM.match(line)
    if match is None or Path(match.group(2)).exists():
        return line
    program = match.group(2)
    stand_in = shutil.which(Path(program).name) or "/bin/true"
    replaced.append(f"{program} ({stand_in})")
    return line.replace(f"{match.group(1)}{program}", f"{match.group(1)}{stand_in}", 1)


def _write(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.write_text(text)
