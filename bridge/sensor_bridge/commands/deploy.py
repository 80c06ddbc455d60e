"""``sensor-bridge deploy ...``: the steps ``hatch run deploy`` (pyinfra) runs on the host.

plan (what would change, as JSON), stage (render + validate with the real tools), swap (the
validated files into place, previous kept), rollback, verify (every service answers). Each
takes ``--root`` (default ``/``): tests give a temp dir, and nothing outside it is touched.
Only paths are printed, never a file's text.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from sensor_bridge.commands import site_option

root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Where / is: live files, staging and the previous set all live under it.",
)


@click.group()
def deploy() -> None:
    """The on-host steps of `hatch run deploy` (run by pyinfra; by hand when debugging)."""


@deploy.command()
@site_option
@root_option
def plan(site_file: str | None, root: Path) -> None:
    """What a deploy would change and restart, as JSON; writes nothing."""
    from sensor_bridge.install import steps
    from sensor_bridge.install.layout import Layout
    from sensor_bridge.site import site_path

    click.echo(json.dumps(steps.plan(site_path(site_file), Layout(root)).as_json(), sort_keys=True))


@deploy.command()
@site_option
@root_option
@click.option(
    "--every-tool/--available-tools",
    default=None,
    help="Fail when a tool could not run (default: on a live root, where the deploy installs "
    "every tool).",
)
@click.option(
    "--tools-in-containers/--tools-on-path",
    default=None,
    help="Run vmalert, VictoriaMetrics and Vector in their pinned images (default: live root).",
)
def stage(
    site_file: str | None,
    root: Path,
    every_tool: bool | None,
    tools_in_containers: bool | None,
) -> None:
    """Render into the staging tree and validate the changed services with their real tools."""
    from sensor_bridge.checks import OK
    from sensor_bridge.install import steps
    from sensor_bridge.install.layout import Layout
    from sensor_bridge.site import site_path

    layout = Layout(root)
    live = layout.is_live
    result = steps.stage(
        site_path(site_file),
        layout,
        every_tool=live if every_tool is None else every_tool,
        in_containers=live if tools_in_containers is None else tools_in_containers,
    )
    for change in result.plan.changes:
        click.echo(f"{change.status:<9} /{change.file.path}")
    for check in result.results:
        click.echo(f"{check.result:<14} /{check.file}  ({check.tool} {check.version})")
    if result.failures:
        for failure in result.failures:
            click.echo(f"FAILED /{failure.file} ({failure.tool}): {failure.detail}", err=True)
        click.echo("deploy stopped before touching the live configuration", err=True)
        raise SystemExit(1)
    checked = sum(1 for r in result.results if r.result == OK)
    click.echo(f"{len(result.plan.changes)} files to change, {checked} checks passed")


@deploy.command()
@site_option
@root_option
def swap(site_file: str | None, root: Path) -> None:
    """Put the validated staging tree in place; the replaced files are kept for rollback."""
    from sensor_bridge.install import steps
    from sensor_bridge.install.layout import Layout
    from sensor_bridge.site import site_path

    done = steps.swap_validated(site_path(site_file), Layout(root))
    for change in done.changes:
        click.echo(f"{change.status:<9} /{change.file.path}")
    _echo_activation(done.activation.as_json())


@deploy.command()
@root_option
@click.option("--dry", is_flag=True, help="Only say what would be restored, as JSON.")
def rollback(root: Path, dry: bool) -> None:
    """Restore the files the last swap replaced (remove the ones it created)."""
    from sensor_bridge.install import steps
    from sensor_bridge.install.layout import Layout

    done = steps.rollback(Layout(root), dry=dry)
    if dry:
        click.echo(json.dumps(done.as_json(), sort_keys=True))
        return
    if not done.changes:
        click.echo("nothing to roll back: no previous set is kept")
        return
    for change in done.changes:
        click.echo(f"restored  /{change.file.path}")
    _echo_activation(done.activation.as_json())


@deploy.command()
@site_option
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds.")
def verify(site_file: str | None, timeout: float) -> None:
    """Every service answers where monit looks for it; else name each one that does not."""
    from sensor_bridge.install.health import unhealthy
    from sensor_bridge.site import load_site

    problems = unhealthy(load_site(site_file), timeout)
    for name, problem in problems.items():
        click.echo(f"UNHEALTHY {name}: {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("every service answers")


def _echo_activation(activation: dict[str, object]) -> None:
    click.echo(f"activation: {json.dumps(activation, sort_keys=True)}")
