"""Shared pieces of every container service's rootless podman quadlet (a ``.container`` unit).

Each service module renders its own ``.container`` with ``container_file`` (the text alone:
``container_unit``), from a ``Container`` spec that holds only what differs between services:
image, arguments, ports, volumes, health command. What every service gets is decided here once:

* ``Restart=always`` (and podman kills a container whose health check keeps failing, so systemd
  restarts it);
* a health check on a fixed rhythm;
* ``[Quadlet] DefaultDependencies=false``: quadlet otherwise makes every unit wait for
  ``podman-user-wait-network-online.service``, which stalls 90 s to 2 min, or returns too early,
  when nothing pulls in ``network-online.target`` (podman #24796, #22197); every service here
  talks to the loopback interface only;
* ``[Install] WantedBy=default.target``: quadlet applies it, starting the unit with the user
  manager (which linger starts at boot);
* a service that drains on stop (Vector) sets ``stop_timeout_s``: podman's StopTimeout (its
  default, 10 s, would SIGKILL the drain) and systemd's TimeoutStopSec above it, so the
  ``podman rm`` that stops the container is not killed first (podman-systemd.unit(5)).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from sensor_bridge import images
from sensor_bridge.render import RenderedFile, quadlet_dir
from sensor_bridge.site import Site

HEADER = "# Rendered by sensor-bridge from the site file; edits here are overwritten."

HEALTH_INTERVAL = "30s"
HEALTH_RETRIES = 3
HEALTH_START_PERIOD = "60s"
"""Failures right after a start do not count: a Pi may need this long to open the data."""
START_TIMEOUT_S = 900
"""The first start pulls the image, which takes minutes on a Pi."""
STOP_MARGIN_S = 15
"""Past a drain's own limit: the process exits, then podman removes the container."""


@dataclass(frozen=True)
class Container:
    """What one container service needs; ``name`` names the unit and the container."""

    name: str
    description: str
    image: str
    health_cmd: str
    """Runs inside the container (``/bin/sh -c``); exit 0 means healthy."""
    exec_args: Sequence[str] = ()
    publish: Sequence[str] = ()
    volumes: Sequence[str] = ()
    environment_file: str | None = None
    working_dir: str | None = None
    """The container's working directory (quadlet ``WorkingDir``, podman ``--workdir``)."""
    network: str | None = None
    after: Sequence[str] = ()
    """User units to start after (and to want), e.g. ``victoriametrics.service``; a rootless
    unit cannot order itself after a system unit such as mosquitto.service."""
    stop_timeout_s: int | None = None
    """Seconds between SIGTERM and SIGKILL (podman's default 10 s when None)."""


def container_path(site: Site, name: str) -> PurePosixPath:
    """Where the quadlet of container ``name`` goes: the service user's quadlet dir."""
    return quadlet_dir(site) / f"{name}.container"


def container_file(site: Site, container: Container, *, service: str, check: str) -> RenderedFile:
    """The ``<name>.container`` quadlet of ``container``."""
    return RenderedFile(
        container_path(site, container.name),
        container_unit(container),
        check=check,
        service=service,
    )


def container_unit(container: Container) -> str:
    unit = [f"Description={container.description}"]
    for after in container.after:
        unit += [f"After={after}", f"Wants={after}"]
    body = [f"ContainerName={container.name}", f"Image={images.for_podman(container.image)}"]
    if container.network:
        body.append(f"Network={container.network}")
    body += [f"PublishPort={port}" for port in container.publish]
    body += [f"Volume={volume}" for volume in container.volumes]
    if container.environment_file:
        body.append(f"EnvironmentFile={container.environment_file}")
    if container.working_dir:
        body.append(f"WorkingDir={container.working_dir}")
    if container.exec_args:
        # One argument a line (systemd's continuation), so a flag reads as one line.
        body.append("Exec=" + " \\\n    ".join(shlex.quote(arg) for arg in container.exec_args))
    body += [
        f"HealthCmd={container.health_cmd}",
        f"HealthInterval={HEALTH_INTERVAL}",
        f"HealthRetries={HEALTH_RETRIES}",
        f"HealthStartPeriod={HEALTH_START_PERIOD}",
        "HealthOnFailure=kill",
    ]
    service = ["Restart=always", "RestartSec=10s", f"TimeoutStartSec={START_TIMEOUT_S}"]
    if container.stop_timeout_s is not None:
        body.append(f"StopTimeout={container.stop_timeout_s}")
        service.append(f"TimeoutStopSec={container.stop_timeout_s + STOP_MARGIN_S}")
    sections = [
        HEADER,
        _section("Unit", unit),
        _section("Container", body),
        _section("Service", service),
        _section("Quadlet", ["DefaultDependencies=false"]),
        _section("Install", ["WantedBy=default.target"]),
    ]
    return "\n\n".join(sections) + "\n"


def _section(name: str, lines: list[str]) -> str:
    return "\n".join([f"[{name}]", *lines])
