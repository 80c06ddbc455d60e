"""``sensor-bridge migrate influx``: the legacy InfluxDB 1.x history into VictoriaMetrics under the
contract's names, with a verification report (``sensor_bridge.migrate``)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sensor_bridge.commands import EXIT_INTERRUPTED, SingleNodeUrl, site_option
from sensor_bridge.store.urls import StoreUrls

if TYPE_CHECKING:
    from sensor_bridge.migrate.mapping import NameMap
    from sensor_bridge.migrate.plan import Plan
    from sensor_bridge.migrate.state import ChunkLog
    from sensor_bridge.site import Site
    from sensor_bridge.store.client import Store

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _instant_ns(value: str | None, option: str) -> int | None:
    """RFC 3339 (``2024-03-01T12:00:00Z``, an offset, or none for UTC) or a date (its midnight
    UTC) as ns since the epoch."""
    if value is None:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text + ("T00:00:00" if _DATE.match(text) else ""))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a time like 2024-03-01 or 2024-03-01T12:00:00Z", param_hint=option
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@click.group()
def migrate() -> None:
    """Bring history over from the systems this one replaces."""


@migrate.command()
@site_option
@click.option("--influx-url", default=None, metavar="URL", help="Default: [migrate.influx] url.")
@click.option("--database", default=None, help="Default: [migrate.influx] database.")
@click.option(
    "--vm-url",
    type=SingleNodeUrl(),
    default=None,
    help="A VictoriaMetrics single node to migrate into. Default: the site's [storage].",
)
@click.option(
    "--start", default=None, help="From (RFC 3339 or a date, UTC). Default: the oldest point."
)
@click.option("--end", default=None, help="To, inclusive. Default: the newest point.")
@click.option("--chunk", default=None, metavar="DURATION", help="Default: [migrate.influx] chunk.")
@click.option(
    "--dry-run", is_flag=True, help="Print the plan (series, counts, mapping); write nothing."
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the chunks done are recorded. Default: $XDG_STATE_HOME or ~/.local/state, "
    "under sensor-bridge/migrate-influx.",
)
@click.option("--fresh", is_flag=True, help="Forget the chunks done and copy everything again.")
@click.option(
    "--past-live",
    is_flag=True,
    help="Also write legacy samples at or after a series' first live sample (they interleave "
    "with what the live pipeline stored). Default: each series stops just before it.",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where influx-migration.md and influx-migration.json are written.",
)
def influx(  # noqa: PLR0913 - one per command-line option, which click passes by name
    *,
    site_file: str | None,
    influx_url: str | None,
    database: str | None,
    vm_url: StoreUrls | None,
    start: str | None,
    end: str | None,
    chunk: str | None,
    dry_run: bool,
    state_dir: Path | None,
    fresh: bool,
    past_live: bool,
    report_dir: Path,
) -> None:
    """Move the history in InfluxDB 1.x into VictoriaMetrics with vmctl, under the contract's
    names (the site's [migrate.influx] table: furnace_furnace_temp{studio,device}, exactly as
    live data, no db label), then prove it.

    \b
    1. Plan: every series of every field, with its type, count and first/last point, and the
       contract series it becomes; string fields and fields without a mapping row are listed
       as not migrated. --dry-run stops here.
    2. Copy in time chunks (vmctl through a relabeling proxy), a progress line each. Each chunk
       done is recorded under --state-dir: after an interruption the same command resumes.
       Running it again stores nothing twice (VictoriaMetrics' deduplication is checked).
       Each series stops just before its first live sample (the earliest VictoriaMetrics held
       for it before the first run wrote): legacy and live samples never interleave, unless
       --past-live. The plan and the report list what was held back.
    3. Verify each series: InfluxQL count, first and last point against VictoriaMetrics'
       export over the range; write the report (Markdown and JSON).

    \b
    The InfluxDB login: $INFLUX_USERNAME and $INFLUX_PASSWORD, else [influxdb] user and
    password in the secrets file, else none.
    \b
    Exit status: 0 every series verified; 1 a series differs (the report names it) or a chunk
    failed; 2 a mistake to fix (site file, mapping, unreachable server); 130 interrupted.
    """
    from sensor_bridge.alerting import durations
    from sensor_bridge.migrate import live, report
    from sensor_bridge.migrate.influxql import InfluxClient, InfluxSource
    from sensor_bridge.migrate.mapping import NameMap
    from sensor_bridge.migrate.plan import build_plan
    from sensor_bridge.site import load_site
    from sensor_bridge.store.client import Store

    site = load_site(site_file)
    config = site.migrate.influx
    chunk = _valid_chunk(chunk) or config.chunk
    source = InfluxSource(
        (influx_url or config.url).rstrip("/"),
        database or config.database,
        config.retention_policy,
        _influx_login(site),
    )
    target = Store(vm_url or site.storage.urls)
    start_ns, end_ns = _instant_ns(start, "--start"), _instant_ns(end, "--end")
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise click.BadParameter("--start is after --end", param_hint="--start")

    client = InfluxClient(source)
    version = client.ping()
    names = NameMap(config, site.studio)
    chunk_ns = int(durations.seconds(chunk) * 1_000_000_000)
    plan = build_plan(client, names, start_ns, end_ns, chunk_ns)
    log = _chunk_log(site, plan, target, state_dir)
    if past_live:
        plan = dataclasses.replace(plan, past_live=True)
    elif plan.end_ns is not None:
        targets = [t.target for t in plan.targets]
        firsts = live.first_live(log.directory, target, targets, plan.end_ns, record=not dry_run)
        plan = live.bounded(plan, client, firsts)
    for line in report.plan_lines(plan, chunk, version):
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing written")
        return
    _copy(plan, names=names, target=target, log=log, fresh=fresh)
    _verify(plan, target, report_dir)


def _valid_chunk(chunk: str | None) -> str | None:
    from pydantic import TypeAdapter, ValidationError

    from sensor_bridge.site import Duration

    if chunk is None:
        return None
    try:
        return str(TypeAdapter(Duration).validate_python(chunk))
    except ValidationError:
        raise click.BadParameter(
            f"{chunk!r} is not a duration like 7d", param_hint="--chunk"
        ) from None


def _chunk_log(site: Site, plan: Plan, target: Store, state_dir: Path | None) -> ChunkLog:
    from sensor_bridge.migrate import state

    fingerprint = state.fingerprint(
        site.migrate.influx, plan.source.url, plan.source.database, str(target.urls)
    )
    return state.ChunkLog((state_dir or state.default_state_dir()) / fingerprint)


def _copy(plan: Plan, *, names: NameMap, target: Store, log: ChunkLog, fresh: bool) -> None:
    """Every chunk not done yet, with a progress line each; exits 1 when a chunk fails and
    130 on Ctrl-C (the chunks done stay recorded)."""
    from sensor_bridge.migrate import run

    interval = run.require_dedup(target)
    vmctl_path, vmctl_version = run.find_vmctl()
    if fresh:
        click.echo(f"forgot {log.forget()} chunks done earlier")
    click.echo(
        f"VictoriaMetrics at {target.urls} (dedup {interval}), vmctl {vmctl_version}; "
        f"chunks recorded in {log.directory}"
    )
    progress = run.Progress()
    try:
        run.migrate_chunks(
            plan,
            names=names,
            store=target,
            log=log,
            vmctl_path=vmctl_path,
            auth=plan.source.auth,
            echo=click.echo,
            progress=progress,
        )
    except KeyboardInterrupt:
        click.echo(
            f"interrupted: {progress.done + progress.skipped} of {len(plan.chunks)} chunks done; "
            "run the same command again to resume",
            err=True,
        )
        raise SystemExit(EXIT_INTERRUPTED) from None
    if progress.failed is not None:
        click.echo("fix the cause and run the same command again to resume", err=True)
        raise SystemExit(1)
    run.make_visible(target)


def _verify(plan: Plan, target: Store, report_dir: Path) -> None:
    """Check every migrated series, write the report; exit 1 when any differs."""
    from sensor_bridge.migrate import report
    from sensor_bridge.migrate.verify import verify

    checks = verify(plan, target)
    report_dir.mkdir(parents=True, exist_ok=True)
    markdown, as_json = report_dir / "influx-migration.md", report_dir / "influx-migration.json"
    where = str(target.urls)
    markdown.write_text(report.as_markdown(plan, checks, where))
    as_json.write_text(json.dumps(report.as_json(plan, checks, where), indent=2) + "\n")
    failed = [check for check in checks if not check.ok]
    for check in failed:
        problems = "; ".join(check.problems)
        click.echo(f"MISMATCH {check.planned.target} (from {check.planned.legacy}): {problems}")
    click.echo(
        f"verified {len(checks) - len(failed)} of {len(checks)} series; "
        f"{len(plan.skipped)} not migrated (listed in the report); report: {markdown}, {as_json}"
    )
    if failed:
        raise SystemExit(1)


def _influx_login(site: Site) -> tuple[str, str] | None:
    """$INFLUX_USERNAME/$INFLUX_PASSWORD (vmctl's own names), else the secrets file's
    [influxdb], else None (no authentication)."""
    from sensor_bridge.site import load_secrets

    user, password = os.environ.get("INFLUX_USERNAME"), os.environ.get("INFLUX_PASSWORD")
    if user:
        return user, password or ""
    if not site.secrets_path.exists():
        return None
    secrets = load_secrets(site).influxdb
    if secrets.user:
        return secrets.user, secrets.password or ""
    return None
