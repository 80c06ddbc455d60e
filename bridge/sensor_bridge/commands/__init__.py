"""One module per ``sensor-bridge`` subcommand, and the options they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from sensor_bridge.store.urls import StoreUrls, single_node

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


class SingleNodeUrl(click.ParamType):
    """A VictoriaMetrics single node's URL (``--vm-url``): the store to ask instead of the
    site's ``[storage]``."""

    name = "URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, StoreUrls):
            return value
        try:
            return single_node(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)
