"""``sensor-bridge status``: services, devices and firing alerts on one screen, in a second."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sensor_bridge.commands import site_option
from sensor_bridge.registry import NAMES


@click.command()
@site_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--timeout",
    type=click.FloatRange(0.05, 30),
    default=None,
    metavar="SECONDS",
    help="How long each service may take to answer. Default: 0.5.",
)
@click.option(
    "--address",
    "addresses",
    multiple=True,
    metavar="SERVICE=HOST:PORT",
    help="Ask SERVICE there instead of where the rendered configuration puts it (repeatable; "
    f"services: {', '.join(NAMES)}).",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Where the deployed files are: a service whose installed file is absent under it, "
    "and that does not answer, reads 'not deployed here' rather than 'not running'.",
)
def status(
    site_file: str | None,
    as_json: bool,
    timeout: float | None,
    addresses: tuple[str, ...],
    root: Path,
) -> None:
    """Every service (up, version, health), every device of the site (online, firmware,
    newest sample, temperature, flame voltage, buffer depth, last reset reason) and the
    firing alerts with their type.

    \b
    Exit status:
      0  every deployed service is healthy, every device online with fresh data, no alert
         firing (silenced ones aside)
      1  something is wrong: the Problems list (or "problems" in --json) says what
      2  the site file is missing or broken, or an option is wrong
    """
    from sensor_bridge.site import load_site
    from sensor_bridge.status import text
    from sensor_bridge.status.collect import DEFAULT_TIMEOUT_S, collect
    from sensor_bridge.status.report import as_json as report_json
    from sensor_bridge.status.targets import Endpoints, Logins, deployed

    site = load_site(site_file)
    overrides = {}
    for item in addresses:
        name, sep, address = item.partition("=")
        if not sep:
            raise click.BadParameter("use SERVICE=HOST:PORT", param_hint="--address")
        overrides[name] = address
    endpoints = Endpoints.of_site(site).moved(overrides)
    report = collect(
        site,
        endpoints,
        deployed(site, root),
        Logins.of_site(site),
        DEFAULT_TIMEOUT_S if timeout is None else timeout,
    )
    if as_json:
        click.echo(json.dumps(report_json(report), indent=2))
    else:
        click.echo(text.render(report))
    raise SystemExit(report.exit_code)
