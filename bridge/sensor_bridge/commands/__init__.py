"""One module per ``sensor-bridge`` subcommand, and what they share: the exit statuses and
the options."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from sensor_bridge.store.urls import StoreUrls, single_node

F = TypeVar("F", bound=Callable[..., object])

# Exit statuses every command keeps to. 0: done, or all it looked at is healthy. 1: it ran
# and found a problem (a failed check, a service down, stale data, a failed chunk).
EXIT_USAGE = 2
"""The user must fix something first: a bad option or argument, a missing or broken site
file, a missing tool, a board or drive the command refuses."""
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C (SIGINT), as a shell reports it."""


def site_option(command: F) -> F:
    """``--site PATH`` (env SENSOR_SITE, default ``site_path``'s), on every command."""
    return click.option(
        "--site",
        "site_file",
        type=click.Path(dir_okay=False),
        envvar="SENSOR_SITE",
        default=None,
        help="The site file. Default: $SENSOR_SITE, else ./site.toml, else "
        "/etc/sensor-pipeline/site.toml (where a deploy over SSH puts it).",
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


def given_options(ctx: click.Context, names: Collection[str] | None = None) -> list[str]:
    """The options of ``ctx`` the user gave (on the command line or from the environment;
    only ``names`` when given), as a command line again: for a process of ours that takes
    the same options. Flags and single-valued options only."""
    argv: list[str] = []
    for param in ctx.command.params:
        name = param.name
        if not isinstance(param, click.Option) or name is None or not param.expose_value:
            continue
        if names is not None and name not in names:
            continue
        if ctx.get_parameter_source(name) not in (
            ParameterSource.COMMANDLINE,
            ParameterSource.ENVIRONMENT,
        ):
            continue
        value = ctx.params[name]
        if param.is_flag:
            argv += [param.opts[-1]] if value else []
        else:
            argv += [param.opts[-1], str(value)]
    return argv


def exit_status(returncode: int) -> int:
    """A child process's return code as this command's exit status: killed by signal N is
    128 + N, as a shell reports it."""
    return returncode if returncode >= 0 else 128 - returncode
