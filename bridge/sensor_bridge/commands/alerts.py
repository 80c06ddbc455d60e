"""``sensor-bridge alerts``: test the alert rules, replay them over history (and, from the
Alertmanager side, silence them)."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import click

from sensor_bridge.commands import SingleNodeUrl, site_option
from sensor_bridge.store.urls import StoreUrls


@click.group()
def alerts() -> None:
    """The alert rules: unit tests, replay over stored history, silences."""


@alerts.command("test")
@site_option
@click.option("--quick", is_flag=True, help="Leave out the 24-hour normal firing.")
@click.option("--verbose", "-v", is_flag=True, help="Print vmalert-tool's output.")
def test(site_file: str | None, quick: bool, verbose: bool) -> None:
    """Run the rules' unit tests (rendered from the site) with vmalert-tool.

    For every alert: cases where it must fire (and by when) and where it must not, a
    24-hour normal firing of the virtual furnace with no alert, an outage with backfill.
    Exits 1 when a case fails.
    """
    from sensor_bridge.alerting.runner import run_rule_tests
    from sensor_bridge.site import load_site

    site = load_site(site_file)
    with tempfile.TemporaryDirectory(prefix="sensor-bridge-alerts-") as tmp:
        results = run_rule_tests(site, Path(tmp), day=not quick)
    for result in results:
        status = "ok" if result.passed else "FAILED"
        click.echo(f"{result.file:<24} {result.cases:>3} cases  {result.seconds:6.1f} s  {status}")
        if verbose or not result.passed:
            click.echo(result.output.rstrip())
    if not all(result.passed for result in results):
        raise SystemExit(1)


@alerts.command("replay")
@site_option
@click.option("--from", "time_from", required=True, type=click.DateTime(), help="Start (UTC).")
@click.option("--to", "time_to", required=True, type=click.DateTime(), help="End (UTC).")
@click.option(
    "--url",
    type=SingleNodeUrl(),
    default=None,
    help="A VictoriaMetrics single node to read history from and write ALERTS to (default: "
    "the site's [storage]).",
)
def replay(
    site_file: str | None, time_from: datetime, time_to: datetime, url: StoreUrls | None
) -> None:
    """Run the rendered rules over stored history (vmalert's replay mode) and print which
    alerts would have fired, and when.

    Times are ISO dates or date-times, in UTC (e.g. 2026-11-20 or 2026-11-20T18:00:00).
    The replayed ALERTS series are written to VictoriaMetrics with a ``replay`` label.
    """
    from sensor_bridge.replay import replay_rules
    from sensor_bridge.site import load_site

    site = load_site(site_file)
    for line in replay_rules(site, time_from, time_to, url or site.storage.urls):
        click.echo(line)


@alerts.command("silence")
@site_option
@click.argument("device")
@click.option("--for", "duration", required=True, help="How long: 30m, 8h, 2d or 1w.")
@click.option("--reason", required=True, help="Why (shown to whoever looks at the silence).")
def silence(site_file: str | None, device: str, duration: str, reason: str) -> None:
    """Mute every alert of DEVICE for a while (maintenance, a planned shutdown).

    Prints the new silence's id; `alerts silences` lists them, `alerts unsilence ID` ends one.
    """
    from sensor_bridge.errors import BridgeError
    from sensor_bridge.silences import Silences, author, parse_duration
    from sensor_bridge.site import load_site

    site = load_site(site_file)
    site.device(device)
    try:
        length = parse_duration(duration)
    except ValueError as error:
        raise BridgeError(f"--for: {error}") from None
    manager = Silences(site.alertmanager.url)
    click.echo(manager.silence_device(site.studio, device, length, reason, author()))


@alerts.command("silences")
@site_option
def silences(site_file: str | None) -> None:
    """List the silences that mute alerts now, or will: id, state, end, what, who and why."""
    from sensor_bridge.silences import Silences
    from sensor_bridge.site import load_site

    site = load_site(site_file)
    found = Silences(site.alertmanager.url).active()
    if not found:
        click.echo("no silences")
    for item in found:
        ends = item.ends_at.strftime("%Y-%m-%d %H:%M UTC")
        click.echo(
            f"{item.id}  {item.state}  until {ends}  {item.matchers}  "
            f"{item.created_by}: {item.comment}"
        )


@alerts.command("unsilence")
@site_option
@click.argument("silence_id", metavar="ID")
def unsilence(site_file: str | None, silence_id: str) -> None:
    """End the silence ID (see `alerts silences`)."""
    from sensor_bridge.silences import Silences
    from sensor_bridge.site import load_site

    site = load_site(site_file)
    Silences(site.alertmanager.url).remove(silence_id)
    click.echo(f"removed {silence_id}")
