"""The repository's site.example.toml and secrets.toml.example, set up as a site in a directory:
the site the demo runs and most tests render."""

from __future__ import annotations

import shutil
from pathlib import Path

from sensor_bridge.local.tools import REPO_ROOT
from sensor_bridge.render import RenderContext
from sensor_bridge.site import load_secrets, load_site

SITE_EXAMPLE = REPO_ROOT / "site.example.toml"
SECRETS_EXAMPLE = REPO_ROOT / "secrets.toml.example"


def example_site(directory: Path) -> Path:
    """Copy the examples to ``directory`` as site.toml and secrets.toml; the site file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    site_file = directory / "site.toml"
    shutil.copyfile(SITE_EXAMPLE, site_file)
    secrets_file = directory / "secrets.toml"
    shutil.copyfile(SECRETS_EXAMPLE, secrets_file)
    secrets_file.chmod(0o600)
    return site_file


def example_context(directory: Path) -> RenderContext:
    """The render context of the example site (set up in ``directory``), no previous files."""
    site = load_site(example_site(directory))
    return RenderContext(site, load_secrets(site))
