"""One module per ``sensor-bridge`` subcommand, and the options they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def site_option(command: F) -> F:
    """``--site PATH`` (env SENSOR_SITE, default ./site.toml), on every command."""
    return click.option(
        "--site",
        "site_file",
        type=click.Path(dir_okay=False),
        envvar="SENSOR_SITE",
        default=None,
        help="The site file. Default: $SENSOR_SITE, else ./site.toml.",
    )(command)
