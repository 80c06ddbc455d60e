"""One command, one way to exit: a usage error anywhere is one line and status 2, and the
options a command hands on to a process of its own arrive as given."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sensor_bridge.commands import given_options
from tests.support.cli import run


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["bundel"], "sensor-bridge: No such command 'bundel'"),
        (["bundle", "raspberry_pi_pico_w"], "sensor-bridge bundle: Missing argument 'DIR'"),
        (["alerts", "silence", "furnace-1"], "sensor-bridge alerts silence: Missing option"),
        (["status", "--colour"], "sensor-bridge status: No such option '--colour'"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_help(argv: list[str], start: str) -> None:
    result = run(*argv)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(start), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.rstrip().endswith("--help'")


def test_given_options_are_handed_on_as_given_and_defaults_are_not() -> None:
    handed: list[list[str]] = []

    @click.command()
    @click.option("--speed", type=float, default=1.0)
    @click.option("--drive", type=click.Path(path_type=Path))
    @click.option("--no-ntp", is_flag=True)
    @click.option("--seed", type=int, default=1, envvar="SEED")
    @click.option("--mine", is_flag=True)
    @click.pass_context
    def command(ctx: click.Context, **options: object) -> None:
        names = [name for name in options if name != "mine"]
        handed.append(given_options(ctx, names))

    result = CliRunner().invoke(
        command, ["--no-ntp", "--drive", "/d", "--mine", "--speed", "2"], env={"SEED": "7"}
    )

    assert result.exit_code == 0, result.output
    assert handed == [["--speed", "2.0", "--drive", "/d", "--no-ntp", "--seed", "7"]]
