"""The tools that exist on the Pi only inside the services' images, as commands the checkers find.

VictoriaMetrics, vmalert and Vector run as containers; the Pi has no binary of them. The
checkers (``sensor_bridge.checks``) look tools up on PATH, so the deploy puts a wrapper of each
there that runs the same command in the pinned image the service will run: ``vmalert -dryRun``
and ``vector validate``/``vector test`` check with exactly the version that will load the file.

The wrappers use root's podman (the deploy runs as root; the staging tree is root's), with the
host network (the VictoriaMetrics check answers on a loopback port), /tmp (checkers keep their
scratch data there) and the staging tree mounted at the same paths, in the caller's working
directory when it is under one of them (the Vector checker runs from the staged config
directory, as the quadlet runs Vector from its config directory: the secret backend's path is
relative to it), else in ``/``. No environment passes
through: the services get none either.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from sensor_bridge.registry import Quadlet, here
from sensor_bridge.site import Site

PODMAN = "/usr/bin/podman"


def images(site: Site) -> dict[str, str]:
    """Tool name (as the checkers look it up) -> the image that holds it as entrypoint, for
    the quadlets this Pi runs (only their files are rendered, so only they are checked)."""
    return {
        service.runs.tool: service.runs.image(site)
        for service in here(site)
        if isinstance(service.runs, Quadlet)
    }


def wrapper(image: str, mounts: Sequence[Path]) -> str:
    """The tool in ``image``, run in the caller's directory when the container sees it (under
    a mount), else in ``/``: podman refuses a working directory the container does not have
    ("workdir ... does not exist on container"), as the deploy's own directory is (the
    checkout on a Pi, the SSH user's home over SSH)."""
    shared = [str(m) for m in ("/tmp", *mounts)]
    volumes = [f"--volume={m}:{m}" for m in shared]
    argv = [
        PODMAN,
        "run",
        "--rm",
        "--network=host",
        *volumes,
    ]
    seen = "|".join(f"{shlex.quote(m)}|{shlex.quote(m)}/*" for m in shared)
    return (
        "#!/bin/sh\n"
        "# Written by sensor-bridge deploy: the tool inside its pinned image, for the checks.\n"
        f'case "$PWD" in {seen}) workdir="$PWD" ;; *) workdir=/ ;; esac\n'
        f'exec {shlex.join(argv)} --workdir="$workdir" {shlex.quote(image)} "$@"\n'
    )


def install(directory: Path, site: Site, mounts: Sequence[Path]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for tool, image in images(site).items():
        path = directory / tool
        path.write_text(wrapper(image, mounts))
        path.chmod(0o755)
