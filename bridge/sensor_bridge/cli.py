"""``sensor-bridge``: the host's command line, and the one command for everything else a
user runs (the bundle, the demo, the virtual board).

Each subcommand lives in its own module under ``sensor_bridge.commands`` and is imported only
when it runs (or when ``--help`` lists it), and imports its own heavy dependencies inside its
body: ``sensor-bridge --help`` stays instant on a Pi.

Every subcommand exits the same way (0, 1, ``EXIT_USAGE``, ``EXIT_INTERRUPTED``: the
comments in ``sensor_bridge.commands`` say when). On a usage error or a ``BridgeError`` one line on
stderr names the problem and the fix, never a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from sensor_bridge.__about__ import __version__
from sensor_bridge.commands import EXIT_INTERRUPTED, EXIT_USAGE
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
    "bundle": "bundle:bundle",
    "console": "console:console",
    "virtual-board": "virtual_board:virtual_board",
    "demo": "demo:demo",
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
            ctx.exit(EXIT_USAGE)
        except click.UsageError as error:
            # click would print the usage and a hint on three more lines.
            path = (error.ctx or ctx).command_path
            message = error.format_message().rstrip(".")
            click.echo(f"{path}: {message}; see '{path} --help'", err=True)
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("sensor-bridge: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group("sensor-bridge", cls=LazyGroup)
@click.version_option(__version__, prog_name="sensor-bridge")
def main() -> None:
    """Furnace monitoring from one command: the Pi's services rendered, checked and deployed
    from one site file; a board's CIRCUITPY tree; the virtual board; the whole pipeline as a
    local demo.

    Exit status: 0 done or healthy, 1 a problem found, 2 something to fix first (one line
    says what), 130 interrupted.
    """
