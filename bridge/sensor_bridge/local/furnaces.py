"""Virtual furnaces: a site's devices as virtual boards running the real firmware bundle,
publishing to a local broker with their own MQTT credentials from the secrets file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sensor_bridge import bundle, provision
from sensor_bridge.site import Device, Secrets, Site
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_bridge.virtual.vm.boot_config import VM_RELEASE

FLAME_DIVIDER_RATIO = "2.0"
"""The virtual rod reads 3.3-3.7 V: a 2:1 divider keeps a 3.3 V ADC in range, as on a real node."""


def board_port(site: Site, ports: Mapping[int, int]) -> int:
    """Where a virtual board connects, of a local broker's ``ports`` (each rendered listener
    port and where it listens here): the devices' TLS listener."""
    return ports[site.broker.port]


def settings(
    site: Site, secrets: Secrets, device: Device, broker_port: int, **overrides: Any
) -> dict[str, Any]:
    """What provisioning would write for ``device``, pointed at the local broker's listener on
    ``broker_port``, its TLS listener, whatever the site says of the device's ``tls`` (a
    virtual board affords TLS); an override of None drops the key."""
    local_broker = site.broker.model_copy(
        update={"device_address": "127.0.0.1", "port": broker_port}
    )
    local_device = device.model_copy(update={"tls": True})
    local_site = site.model_copy(
        update={
            "broker": local_broker,
            "devices": [local_device if d.id == device.id else d for d in site.devices],
        }
    )
    values: dict[str, Any] = {
        **provision.settings_values(local_site, secrets, device.id),
        "FLAME_DIVIDER_RATIO": FLAME_DIVIDER_RATIO,
        **overrides,
    }
    return {key: value for key, value in values.items() if value is not None}


def settings_text(values: dict[str, Any]) -> str:
    """settings.toml as CircuitPython reads it: strings and integers only."""
    lines = []
    for key, value in values.items():
        text = str(int(value)) if isinstance(value, int) else provision.toml_string(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def make_drive(
    drive: Path,
    board: str,
    values: dict[str, Any],
    ca_pem: bytes | None = None,
    *,
    engine: str = "cpython",
) -> Path:
    """A CIRCUITPY tree: the firmware bundle for ``board``, ``values`` as settings.toml and,
    when given, the CA as ca.pem.

    The bundle in the form the virtual board's ``engine`` runs: the source (``.py``) on
    CPython, ``.mpy`` for CircuitPython's VM, as a board on the VM's release gets it."""
    form = bundle.SOURCE if engine == "cpython" else bundle.mpy_line(VM_RELEASE, "the VM")
    bundle.write(board, drive, form)
    (drive / provision.SETTINGS_FILE).write_text(settings_text(values))
    if ca_pem is not None:
        (drive / provision.CA_FILE).write_bytes(ca_pem)
    return drive


def virtual_furnace(
    site: Site,
    secrets: Secrets,
    device: Device,
    broker_port: int,
    workdir: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    **board: Any,
) -> VirtualBoardProcess:
    """``device`` as a virtual board (not started) on its own drive under ``workdir``, its
    settings with ``overrides``; ``board`` goes to ``VirtualBoardProcess`` (``speed``,
    ``epoch``, ``scenario``, ``engine``: ``vm`` runs in real time only), and the drive holds
    the bundle in the form that engine runs."""
    drive = make_drive(
        workdir / device.id,
        device.board,
        settings(site, secrets, device, broker_port, **(overrides or {})),
        secrets.authority.cert_pem,
        engine=board.get("engine", "cpython"),
    )
    return VirtualBoardProcess(drive, board=device.board, **board)
