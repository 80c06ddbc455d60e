"""``sensor-bridge dashboards push``: the generated dashboards into Grafana Cloud, in place."""

from __future__ import annotations

import click

from sensor_bridge.commands import site_option


@click.group()
def dashboards() -> None:
    """The Grafana dashboards generated from the site file (furnaces, device health, pipeline
    health)."""


@dashboards.command()
@site_option
@click.option(
    "--dry-run", is_flag=True, help="Compare with what Grafana has and print what would change."
)
def push(site_file: str | None, dry_run: bool) -> None:
    """Push the dashboards to the Grafana stack named in the secrets file ([grafana_cloud]
    stack_url and service_account_token), into the studio's folder.

    Each dashboard keeps its uid, so a push updates it in place (Grafana keeps the previous
    versions); a dashboard that did not change is not written again.
    """
    import json

    from sensor_bridge.__about__ import __version__
    from sensor_bridge.grafana import CHANGED, NEW, UNCHANGED, GrafanaApi, ensure_folder, plan
    from sensor_bridge.render import RenderContext
    from sensor_bridge.render import dashboards as generated
    from sensor_bridge.site import load_secrets, load_site

    site = load_site(site_file)
    secrets = load_secrets(site)
    url, token = secrets.grafana_api()
    boards = {
        board["uid"]: board
        for board in (json.loads(f.text) for f in generated.render(RenderContext(site, secrets)))
    }
    api = GrafanaApi(url, token)
    folder_uid = f"sensor-pipeline-{site.studio}"[:40]
    folder_title = f"Sensor pipeline — {site.studio}"
    would = "would be " if dry_run else ""
    new_folder = ensure_folder(api, folder_uid, folder_title, dry_run)
    state = f"{would}created" if new_folder else "exists"
    click.echo(f"Grafana {url}: folder {folder_title!r} ({folder_uid}) {state}")

    planned = plan(api, list(boards.values()), folder_uid)
    width = max(len(p.uid) for p in planned)
    done = {
        NEW: "would create" if dry_run else "created",
        CHANGED: "would update" if dry_run else "updated",
        UNCHANGED: "unchanged",
    }
    for item in planned:
        line = f"{done[item.action]:<13} {item.uid:<{width}}  {item.title}"
        if item.action != UNCHANGED and not dry_run:
            message = f"sensor-bridge {__version__} dashboards push"
            version = api.save_dashboard(boards[item.uid], folder_uid, message)
            line += f" (version {version}, {url}/d/{item.uid})"
        click.echo(line)
        for change in item.changes:
            click.echo(f"{'':<13} {'':<{width}}    {change}")
    counts = ", ".join(
        f"{sum(1 for p in planned if p.action == action)} {done[action]}"
        for action in (NEW, CHANGED, UNCHANGED)
    )
    click.echo(f"{len(planned)} dashboards: {counts}" + ("; nothing sent" if dry_run else ""))
