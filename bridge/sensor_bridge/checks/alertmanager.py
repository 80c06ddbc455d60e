"""Alertmanager: ``amtool check-config`` on the rendered config, and a real start on its flags.

The flags file (``/etc/default/prometheus-alertmanager``) is checked by starting the real
``prometheus-alertmanager`` with the rendered ``ARGS``, its listen address moved to a free
loopback port and its storage to a temp dir: a flag the binary refuses fails here. OK when it
answers ``/-/ready``.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, CheckResult
from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.checks.tools import find_tool, tool_version
from sensor_bridge.render import RenderedFile
from sensor_bridge.render.alertmanager import CONFIG_PATH, DEFAULTS_PATH, NAME

AMTOOL = "amtool"
DAEMON = "prometheus-alertmanager"
INSTALL_HINT = "apt-get install prometheus-alertmanager"
START_TIMEOUT_S = 15.0
_LISTEN = "--web.listen-address"


def check(root: Path, files: Sequence[RenderedFile]) -> list[CheckResult]:
    results = []
    for rendered in (f for f in files if f.check == NAME):
        if rendered.path == CONFIG_PATH:
            results.append(check_config(root / rendered.path, str(rendered.path)))
        elif rendered.path == DEFAULTS_PATH:
            results.append(_check_flags(root, rendered))
    return results


def check_config(path: Path, name: str) -> CheckResult:
    """``amtool check-config`` on ``path``; ``name`` is how the result names the file."""
    tool = find_tool(AMTOOL)
    if tool is None:
        return CheckResult(name, AMTOOL, "-", NOT_CHECKED, INSTALL_HINT)
    run = subprocess.run(
        [tool, "check-config", str(path)], capture_output=True, text=True, check=False
    )
    version = tool_version(tool)
    if run.returncode == 0:
        return CheckResult(name, AMTOOL, version, OK, "check-config SUCCESS")
    # "Checking '<path>'  FAILED: <why>": the why, with the path as it is on the Pi.
    lines = [line for line in run.stdout.splitlines() if "FAILED" in line] or [run.stderr.strip()]
    why = lines[0].partition("FAILED: ")[2] or lines[0]
    return CheckResult(name, AMTOOL, version, FAILED, why.replace(str(path), f"/{name}"))


def rendered_args(defaults_text: str) -> list[str]:
    """The arguments ``ARGS=`` of the flags file gives the daemon (systemd splits ``$ARGS``)."""
    for line in defaults_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "ARGS":
            return shlex.split(" ".join(shlex.split(value)))
    return []


def runnable_args(defaults_text: str, port: int, storage: Path, config: Path) -> list[str]:
    """The rendered flags, listening on 127.0.0.1:port with its state in ``storage``."""
    kept = [a for a in rendered_args(defaults_text) if a.partition("=")[0] != _LISTEN]
    return [
        f"--config.file={config}",
        f"--storage.path={storage}",
        f"{_LISTEN}=127.0.0.1:{port}",
        *kept,
    ]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _check_flags(root: Path, defaults: RenderedFile) -> CheckResult:
    name = str(defaults.path)
    tool = find_tool(DAEMON)
    if tool is None:
        return CheckResult(name, DAEMON, "-", NOT_CHECKED, INSTALL_HINT)
    version = tool_version(tool)
    config = root / CONFIG_PATH
    if not config.is_file():
        return CheckResult(name, DAEMON, version, FAILED, f"no /{CONFIG_PATH} beside it")
    with tempfile.TemporaryDirectory(prefix="check-alertmanager-") as tmp:
        port = free_port()
        args = runnable_args(defaults.text, port, Path(tmp) / "data", config)
        daemon = Service([tool, *args], Path(tmp) / "alertmanager.log")
        with daemon:
            ok = daemon.wait_until(lambda: ready(port), START_TIMEOUT_S)
        errors = daemon.error_lines(r"level=error|error:")
    if ok:
        return CheckResult(name, DAEMON, version, OK, f"ready with {' '.join(args[3:])}")
    return CheckResult(name, DAEMON, version, FAILED, errors[0] if errors else "not ready")
