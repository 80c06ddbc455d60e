"""``sensor-bridge demo``: the whole pipeline on this machine, two virtual furnaces playing a
scenario (``sensor_bridge.demo``)."""

from __future__ import annotations

from pathlib import Path

import click

from sensor_bridge.commands import EXIT_INTERRUPTED, exit_status, given_options
from sensor_bridge.demo.processes import DEFAULT_OUT
from sensor_bridge.demo.scenarios import DEFAULT_SCENARIO, SCENARIOS


def _list_scenarios(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        from sensor_bridge.demo.processes import scenario_listing

        click.echo(scenario_listing())
        ctx.exit()


@click.command()
@click.option(
    "--scenario",
    default=DEFAULT_SCENARIO,
    show_default=True,
    type=click.Choice(sorted(SCENARIOS)),
    help="What happens during the run (see --list-scenarios).",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="End the run S seconds after the scenario starts. Default: the scenario's end.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    metavar="X",
    help="Play the scenario's timeline X times faster: its step times and its end are "
    "divided by X. Only the timeline: the furnaces, the storage and the alert rules stay in "
    "real time, as the boards' timestamps must be real for VictoriaMetrics and vmalert, so an "
    "alert still takes its real delay (a flame out ~20 s to page) and, at high X, a step may "
    "come before the alert of the one before it.",
)
@click.option(
    "--list-scenarios",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_list_scenarios,
    help="List the scenarios and their timed steps, and exit.",
)
@click.option(
    "--no-live",
    is_flag=True,
    help="Plain log lines instead of the live view (automatic when stdout is not a terminal).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    metavar="DIR",
    help="Where the plot (NAME.png) and the summary (NAME-summary.txt) go.",
)
@click.pass_context
def demo(
    ctx: click.Context,
    *,
    scenario: str,
    duration: float | None,
    speed: float,
    no_live: bool,
    out: Path,
) -> None:
    """The whole pipeline on this machine: Mosquitto, the pipeline, VictoriaMetrics, vmalert
    and Alertmanager (a local receiver stands in for Grafana IRM) on loopback ports, and two
    virtual furnaces running the real firmware, playing a scenario.

    On exit (or Ctrl-C) everything stops, a summary is printed and a plot written. Exit
    status 130 when interrupted.
    """
    from sensor_bridge.demo import processes

    if not processes.is_engine():
        raise SystemExit(exit_status(processes.supervise(given_options(ctx))))
    interrupted = processes.engine(scenario, speed, duration, not no_live, out)
    raise SystemExit(EXIT_INTERRUPTED if interrupted else 0)
