"""``sensor-bridge``: the host's command line.

Each subcommand lives in its own module under ``sensor_bridge.commands`` and is imported only
when it runs (or when ``--help`` lists it), and imports its own heavy dependencies inside its
body: ``sensor-bridge --help`` stays instant on a Pi. A ``BridgeError`` (a problem the user can
fix) prints its one line and exits 2, never a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from sensor_bridge.__about__ import __version__
from sensor_bridge.errors import BridgeError

# command name -> "module:attribute" under sensor_bridge.commands
COMMANDS = {
    "render": "render:render",
    "check": "check:check",
    "dataflow": "dataflow:dataflow",
    "alerts": "alerts:alerts",
    "migrate": "migrate:migrate",
    "status": "status:status",
    "dashboards": "dashboards:dashboards",
    "deploy": "deploy:deploy",
    "provision": "provision:provision",
    "console": "console:console",
    "virtual-board": "virtual_board:virtual_board",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when they are looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        module = importlib.import_module(f"sensor_bridge.commands.{module_name}")
        command: click.Command = getattr(module, attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BridgeError as error:
            click.echo(f"sensor-bridge: {error}", err=True)
            ctx.exit(2)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="sensor-bridge")
def main() -> None:
    """Render and check the Raspberry Pi's services from one site file."""
