"""``sensor-bridge render --out DIR``: every service's configuration, from the site file."""

from __future__ import annotations

from pathlib import Path

import click

from sensor_bridge.commands import site_option


@click.command()
@site_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The tree to write; it mirrors / on the Pi (etc/mosquitto/..., home/...).",
)
@click.option(
    "--previous-root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Where to find files that DIR lacks, e.g. / on the Pi: what did not change (the "
    "password hashes) is kept from there.",
)
def render(site_file: str | None, out: Path, previous_root: Path | None) -> None:
    """Render every file into DIR; secrets get mode 0600.

    A file already in DIR (else under --previous-root) is passed to the renderers, so an
    unchanged password keeps its hash and rendering twice changes nothing.
    """
    from sensor_bridge.tree import CHANGED, NEW, UNCHANGED, render_site, write_tree

    roots = [out] if previous_root is None else [out, previous_root]
    statuses = write_tree(out, render_site(site_file, roots))
    for rendered, status in statuses:
        secret = "  (secret, 0600)" if rendered.secret else ""
        click.echo(f"{status:<10} {rendered.path}{secret}")
    summary = ", ".join(
        f"{sum(1 for _, status in statuses if status == kind)} {kind}"
        for kind in (NEW, CHANGED, UNCHANGED)
    )
    click.echo(f"{len(statuses)} files in {out}: {summary}")
