"""``sensor-bridge provision DEVICE --drive PATH``: one board's CIRCUITPY drive, ready to run."""

from __future__ import annotations

from pathlib import Path

import click

from sensor_bridge.commands import site_option


@click.command()
@site_option
@click.argument("device_id", metavar="DEVICE")
@click.option(
    "--drive",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The board's mounted CIRCUITPY drive, e.g. /media/$USER/CIRCUITPY.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write even though the drive has no boot_out.txt (a plain directory to copy later; "
    "give --circuitpython). A board that differs from the site file is never overridden.",
)
@click.option(
    "--circuitpython",
    metavar="VERSION",
    help="The board's CircuitPython (e.g. 10.1.0), for a drive without boot_out.txt: lib/ is "
    "compiled to .mpy for its release line.",
)
def provision(
    site_file: str | None, device_id: str, drive: Path, force: bool, circuitpython: str | None
) -> None:
    """Write DEVICE's firmware, its board's libraries and its settings.toml to the drive.

    The settings come from the site and secrets files: Wi-Fi ([wifi] in the secrets file), the
    broker's address as the boards reach it (broker.device_address) and port, and DEVICE's own
    MQTT login (its id and its password under [mqtt.devices]). Nothing is written when DEVICE
    is not in the site file, when the drive's boot_out.txt names another board than the site
    file says or a CircuitPython release line without tested .mpy files (10.x is supported),
    or when the files do not fit; settings.toml is written last, and every file is
    read back from the drive and compared. Works offline. Passwords are never printed.
    """
    from sensor_bridge.provision import provision as write_drive
    from sensor_bridge.site import load_secrets, load_site

    site = load_site(site_file)
    secrets = load_secrets(site)
    done = write_drive(
        site,
        secrets,
        device_id,
        drive,
        force=force,
        progress=click.echo,
        circuitpython=circuitpython,
    )
    running = done.boot.version if done.boot and done.boot.version else "no boot_out.txt"
    click.echo(f"board     {done.board_id} ({running})")
    click.echo(
        f"settings  {done.device_id}: Wi-Fi {done.ssid!r}, broker {done.broker}:{done.port}, "
        f"MQTT user {done.device_id} (passwords not shown)"
    )
    click.echo(
        f"verified  {done.files} files, {done.bytes_written // 1024} KiB, read back identical"
    )
    click.echo("Eject the drive, then press the board's reset button.")
