"""Where the checkers find the real tools, and which version each one is.

Tools Debian 12 lacks (VictoriaMetrics 1.112, podman's quadlet generator) come from the tool
cache that ``scripts/tool-cache`` unpacks from Debian 13's packages into ``.tools/debs`` (or
``$SENSOR_TOOL_CACHE``); the cache wins over an older copy on the system, since it holds the
versions the tests ran. Everything else is looked up on PATH and in the system directories.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

TOOL_CACHE_ENV = "SENSOR_TOOL_CACHE"
MANIFEST = "installed"
"""``package version`` lines, written by scripts/tool-cache; the Debian builds print no version."""

# tool -> (path inside an unpacked Debian package, that package)
_PACKAGED = {
    "victoria-metrics": ("usr/bin/victoria-metrics", "victoria-metrics"),
    "vmalert": ("usr/bin/vmalert", "victoria-metrics"),
    "vmalert-tool": ("usr/bin/vmalert-tool", "victoria-metrics"),
    "vmctl": ("usr/bin/vmctl", "victoria-metrics"),
    "quadlet": ("usr/libexec/podman/quadlet", "podman"),
}

CACHED_TOOLS = frozenset(_PACKAGED)
"""The tools scripts/tool-cache provides."""

# Debian installs daemons in sbin and helpers in libexec, which are not on every user's PATH.
_SYSTEM_DIRS = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def tool_cache() -> Path:
    """The unpacked-packages tree: $SENSOR_TOOL_CACHE, else the repository's .tools/debs."""
    configured = os.environ.get(TOOL_CACHE_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / ".tools" / "debs"


def cached_tool(name: str) -> Path | None:
    """``name`` from the tool cache, if the cache holds it."""
    packaged = _PACKAGED.get(name)
    if packaged is None:
        return None
    path = tool_cache() / packaged[0]
    return path if path.is_file() else None


def find_tool(name: str) -> Path | None:
    """The tool cache's ``name``, else the system's (PATH, sbin, podman's libexec), else None."""
    cached = cached_tool(name)
    if cached is not None:
        return cached
    packaged = _PACKAGED.get(name)
    if packaged is not None and (Path("/") / packaged[0]).is_file():
        return Path("/") / packaged[0]
    found = shutil.which(name) or shutil.which(name, path=_SYSTEM_DIRS)
    return Path(found) if found is not None else None


def tool_version(path: Path) -> str:
    """The Debian package version of the tool at ``path`` (cache manifest or dpkg), or "?"."""
    cache = tool_cache()
    for packaged, package in _PACKAGED.values():
        if path == cache / packaged:
            return _manifest_version(cache, package)
    try:
        owner = subprocess.run(
            ["dpkg-query", "-S", str(path.resolve())], capture_output=True, text=True, check=True
        ).stdout
        package = owner.split(":", 1)[0]
        return subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _manifest_version(cache: Path, package: str) -> str:
    manifest = cache / MANIFEST
    if manifest.is_file():
        for line in manifest.read_text().splitlines()[1:]:
            name, _, version = line.partition(" ")
            if name == package:
                return version
    return "?"
