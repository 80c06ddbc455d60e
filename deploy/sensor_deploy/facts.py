"""What the deploy reads from a host before deciding."""

from __future__ import annotations

import json
import shlex
from typing import Any

from pyinfra.api import FactBase

from sensor_bridge.install.host_setup import PRIMARY_FINGERPRINTS


class OsRelease(FactBase[str]):
    """``/etc/os-release`` (under ``root``), as text."""

    def command(self, root: str = "/") -> str:
        return f"cat {shlex.quote(root.rstrip('/') + '/etc/os-release')} 2>/dev/null || true"

    def process(self, output: list[str]) -> str:
        return "\n".join(output)


class DpkgArchitecture(FactBase[str]):
    """The userland's architecture (arm64 on 64-bit Pi OS, armhf on 32-bit)."""

    def command(self) -> str:
        return "dpkg --print-architecture"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


class DeployPlan(FactBase[dict[str, Any] | None]):
    """``sensor-bridge deploy plan``: the files that differ from the site and what they restart.

    None when the host package is not installed yet (a fresh Pi: everything is new)."""

    def requires_command(self, sensor_bridge: str, site: str, root: str) -> str:
        return sensor_bridge

    def command(self, sensor_bridge: str, site: str, root: str) -> str:
        return shlex.join([sensor_bridge, "deploy", "plan", "--site", site, "--root", root])

    def process(self, output: list[str]) -> dict[str, Any]:
        plan: dict[str, Any] = json.loads("\n".join(output))
        return plan


class JsonFile(FactBase[Any]):
    """A JSON file's content, None when it does not exist."""

    def command(self, path: str) -> str:
        quoted = shlex.quote(path)
        return f"if [ -f {quoted} ]; then cat {quoted}; else echo null; fi"

    def process(self, output: list[str]) -> Any:
        return json.loads("\n".join(output) or "null")


def as_user(user: str, command: str, environment: str = "") -> str:
    """``command`` (shell) as ``user``, from ``/``: the deploy's working directory (root's home
    over SSH, the checkout with ``hatch run deploy``; 0700 on Debian 13) is not the user's to
    enter, and rootless podman stops there ("cannot chdir to /root: Permission denied")."""
    quoted = shlex.quote(user)
    return f"runuser -u {quoted} -- env --chdir=/ {environment}sh -c {shlex.quote(command)}"


def in_user_runtime(user: str, command: str) -> str:
    """``command`` as ``user`` with the user manager's runtime dir: rootless podman needs its
    own, and over SSH the one inherited is root's ("mkdir /run/user/0/libpod: permission
    denied", which made every image look missing and pulled again on a Debian 13 host)."""
    return as_user(user, command, f"XDG_RUNTIME_DIR=/run/user/$(id -u {shlex.quote(user)}) ")


class PodmanImagePresent(FactBase[bool]):
    """Whether ``image`` is in ``user``'s image store (root's when ``user`` is root)."""

    def requires_command(self, image: str, user: str) -> str:
        return "podman"

    def command(self, image: str, user: str) -> str:
        check = f"podman image exists {shlex.quote(image)}"
        if user != "root":
            check = f"id -u {shlex.quote(user)} >/dev/null 2>&1 && {in_user_runtime(user, check)}"
        return f"if {check}; then echo yes; else echo no; fi"

    def process(self, output: list[str]) -> bool:
        return bool(output) and output[-1].strip() == "yes"


class KeyFingerprints(FactBase[list[str]]):
    """The primary key fingerprints in an OpenPGP key file (none when it does not exist)."""

    def requires_command(self, path: str) -> str:
        return "gpg"

    def command(self, path: str) -> str:
        return PRIMARY_FINGERPRINTS.format(path=shlex.quote(path))

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]
