"""Renderers: pure functions from the site (and its secrets) to configuration file text.

Each service's module exposes ``render(context) -> list[RenderedFile]`` (the registry names
it); ``render_all`` runs every service's, then the dashboards'. No renderer reads or writes
files: what a renderer needs from the machine (the previous password file, so unchanged
passwords keep their hashes) comes in ``RenderContext``. Paths mirror where a file goes on the
Pi, relative to ``/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from sensor_bridge.site import Secrets, Site


@dataclass(frozen=True)
class RenderedFile:
    """One file of the rendered tree.

    ``check`` names the checker (see ``sensor_bridge.checks``) that validates it, or None for
    files that are checked as part of another (an ACL is checked with the broker's config).
    """

    path: PurePosixPath
    text: str
    mode: int = 0o644
    secret: bool = False
    check: str | None = None
    service: str = ""


@dataclass(frozen=True)
class RenderContext:
    site: Site
    secrets: Secrets
    previous: Mapping[PurePosixPath, str] = field(default_factory=dict)
    """Text of files already in place (same relative paths), where a renderer may reuse them."""


Renderer = Callable[[RenderContext], list[RenderedFile]]


def renderers(site: Site) -> list[Renderer]:
    """The renderer of every service this Pi runs for ``site``, in the registry's order, then
    the dashboards' (Grafana's, not a service of the Pi): the order the files are listed in."""
    from sensor_bridge.registry import here
    from sensor_bridge.render import dashboards

    return [*(service.renderer.load() for service in here(site)), dashboards.render]


def render_all(context: RenderContext) -> list[RenderedFile]:
    files = [f for renderer in renderers(context.site) for f in renderer(context)]
    seen: set[PurePosixPath] = set()
    for rendered in files:
        if rendered.path in seen:
            raise ValueError(f"two renderers write {rendered.path}")
        seen.add(rendered.path)
    return files


def user_path(site: Site, *parts: str) -> PurePosixPath:
    """A path under the service user's home, relative to ``/``."""
    home = PurePosixPath(site.service_user.home_dir).relative_to("/")
    return home.joinpath(*parts)


def quadlet_dir(site: Site) -> PurePosixPath:
    """Where rootless quadlets are picked up on ``systemctl --user daemon-reload``."""
    return user_path(site, ".config", "containers", "systemd")
