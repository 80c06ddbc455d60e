"""Provision one board: its CIRCUITPY drive gets the bundle for its board and its own settings.

``render_settings(site, secrets, device_id)`` is the board's ``settings.toml``, a pure function of
the site and secrets files; its keys come from the firmware's settings table
(``sensor_node.settings.SETTINGS``) and the values are checked by the firmware's own
``load_settings``, so a value the node would refuse is refused here, before the drive is touched.
``provision(...)`` checks the drive (``boot_out.txt`` names the site's board and a CircuitPython
release line the bundle compiles ``.mpy`` for, there is room), writes the bundle, then
``settings.toml`` last, and reads every file back from the device. ``ca.pem`` is the studio's CA
(``sensor_bridge.tls``), against which the board verifies the broker's certificate.
Works offline: everything comes from this checkout and the installed libraries.
"""

from __future__ import annotations

import ast
import math
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from sensor_bridge import bundle
from sensor_bridge.bundle import BOOT_OUT, BootOut, parse_boot_out
from sensor_bridge.errors import BridgeError
from sensor_bridge.render.mosquitto import device_host
from sensor_bridge.site import Secrets, Site
from sensor_node.settings import SETTINGS, SettingsError, load_settings

SETTINGS_FILE = "settings.toml"
CA_FILE = "ca.pem"
"""Where the board finds the CA it verifies the broker against (sensor_node's link)."""

# TOML basic strings: these two characters and the control characters must be escaped.
# CircuitPython's settings.toml reader (shared-module/os/getenv.c) undoes \\, \", \b, \t, \n,
# \f, \r and \uXXXX the same way (it has no \e, and its \v is not TOML).
_SHORT_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string that CircuitPython's reader reads back unchanged."""
    out = []
    for char in value:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def settings_values(site: Site, secrets: Secrets, device_id: str) -> dict[str, str | int]:
    """Every key provisioning sets for ``device_id``; the firmware's defaults cover the rest."""
    device = site.device(device_id)
    wifi = secrets.wifi_credentials()
    return {
        "CIRCUITPY_WIFI_SSID": wifi.ssid,
        "CIRCUITPY_WIFI_PASSWORD": wifi.password,
        "MQTT_BROKER": device_host(site),
        "MQTT_PORT": site.broker.port if device.tls else site.broker.plain_port,
        "MQTT_TLS": 1 if device.tls else 0,
        "MQTT_USER": device.id,
        "MQTT_PASSWORD": secrets.device_password(device.id),
        "MQTT_TOPIC_ROOT": site.topic_root,
        "STUDIO_ID": site.studio,
        "DEVICE_ID": device.id,
    }


def _source(key: str, site: Site, secrets: Secrets) -> str:
    """Where the value of settings key ``key`` comes from, for an error message."""
    sources = {
        "CIRCUITPY_WIFI_SSID": f"{secrets.path} [wifi] ssid",
        "CIRCUITPY_WIFI_PASSWORD": f"{secrets.path} [wifi] password",
        "MQTT_BROKER": f"{site.path} broker.device_address",
        "MQTT_PASSWORD": f"{secrets.path} [mqtt.devices]",
    }
    return sources.get(key, str(site.path))


def board_numbers(board_id: str) -> SimpleNamespace:
    """The board module's number constants (``WATCHDOG_MAX_S``, ...), read without importing
    it: it imports CircuitPython's ``board``, which the host does not have."""
    path = bundle.boards_dir() / f"{board_id}.py"
    numbers = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    numbers[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return SimpleNamespace(**numbers)


def render_settings(site: Site, secrets: Secrets, device_id: str) -> str:
    """The text of ``device_id``'s settings.toml. BridgeError when the node would refuse a
    value (the firmware's own check), naming the site or secrets entry to change."""
    device = site.device(device_id)
    values = settings_values(site, secrets, device_id)
    try:
        load_settings(values.get, board_numbers(device.board))
    except SettingsError as error:
        raise BridgeError(
            f"{_source(error.key, site, secrets)}: the board would refuse it: "
            f"{error.key} {error.problem}"
        ) from None
    lines = [
        f"# settings.toml for {device.id} ({device.board}), written by `sensor-bridge provision`",
        "# from the site and secrets files: change those and provision again. Holds passwords:",
        "# keep it on the board. Other keys (settings.toml.example) keep their defaults.",
    ]
    for key in (setting.key for setting in SETTINGS if setting.key in values):
        value = values[key]
        text = toml_string(value) if isinstance(value, str) else str(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def check_drive(drive: Path, device_id: str, board_id: str, force: bool) -> BootOut | None:
    """The drive's boot_out.txt, after checking it is the board the site says ``device_id`` is.

    None when there is no boot_out.txt and ``force`` allows that (it also creates a missing
    directory)."""
    if force and not drive.exists():
        drive.mkdir(parents=True)
    if not drive.is_dir():
        raise BridgeError(f"{drive}: no such directory: mount the board's CIRCUITPY drive")
    try:
        text = (drive / BOOT_OUT).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        if force:
            return None
        raise BridgeError(
            f"{drive}: no {BOOT_OUT}, so not a CIRCUITPY drive: mount the board's drive "
            "(or pass --force to write to a plain directory)"
        ) from None
    boot = parse_boot_out(text)
    if boot.board_id is None:
        raise BridgeError(f"{drive / BOOT_OUT} names no board (no 'Board ID:' line)")
    if boot.board_id != board_id:
        raise BridgeError(
            f"{drive / BOOT_OUT} says board {boot.board_id}, but the site file gives {device_id} "
            f"board {board_id}: plug in the right board, or correct its board in the site file"
        )
    return boot


def allocated(size: int, block: int) -> int:
    """Bytes a file of ``size`` takes on a file system with ``block``-byte clusters."""
    return math.ceil(size / block) * block


def space_needed(new_sizes: Iterable[int], replaced_sizes: Iterable[int], block: int) -> int:
    """Free bytes the write needs: the new files' clusters less those of the files they
    replace (which are freed as they go)."""
    needed = sum(allocated(size, block) for size in new_sizes)
    return needed - sum(allocated(size, block) for size in replaced_sizes)


def _sizes_under(path: Path) -> list[int]:
    if path.is_dir():
        return [p.stat().st_size for p in path.rglob("*") if p.is_file()]
    if path.is_file():
        return [path.stat().st_size]
    return []


def replaced_sizes(drive: Path, destinations: Iterable[Path]) -> list[int]:
    """Sizes of the files on ``drive`` that writing ``destinations`` replaces: the same paths,
    and each library's older copy in ``lib/`` (.py, .mpy or a package; ``bundle.install``
    removes them)."""
    sizes = []
    seen: set[Path] = set()
    for dest in destinations:
        if len(dest.parts) > 1 and dest.parts[0] == "lib":
            candidates = bundle.library_copies(dest)
        else:
            candidates = [dest]
        for candidate in candidates:
            if candidate not in seen:
                seen.add(candidate)
                sizes.extend(_sizes_under(drive / candidate))
    return sizes


def check_space(drive: Path, files: Mapping[Path, int]) -> None:
    """Refuse when ``files`` (destination -> size) do not fit on ``drive``."""
    usage = shutil.disk_usage(drive)
    block = os.statvfs(drive).f_frsize or 512
    needed = space_needed(files.values(), replaced_sizes(drive, files), block)
    if needed > usage.free:
        raise BridgeError(
            f"{drive}: not enough space: the files need {_kib(needed)}, the drive has "
            f"{_kib(usage.free)} free: delete what the board does not need (old libraries in "
            "lib/, data files) and provision again"
        )


def _kib(size: int) -> str:
    return f"{math.ceil(size / 1024)} KiB"


def read_back(path: Path) -> bytes:
    """``path``'s bytes as the device holds them: flushed to it, then read past the page cache
    (where the OS has a way to drop the cached copy)."""
    with path.open("rb") as handle:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        return handle.read()


@dataclass(frozen=True)
class Provisioned:
    """What ``provision`` wrote and checked."""

    device_id: str
    board_id: str
    boot: BootOut | None
    broker: str
    port: int
    ssid: str
    files: int
    bytes_written: int


def _write_settings(path: Path, data: bytes) -> None:
    """Created 0600 where the file system has modes (CIRCUITPY's FAT has none): it holds
    passwords."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def provision(
    site: Site,
    secrets: Secrets,
    device_id: str,
    drive: Path,
    *,
    force: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    circuitpython: str | None = None,
) -> Provisioned:
    """Write ``device_id``'s tree to ``drive`` and read it back; BridgeError before anything is
    written when the device, its settings, the drive or its free space is wrong.

    ``lib/`` is compiled for the CircuitPython release line ``boot_out.txt`` names, or, on a
    directory without one (``force``), for ``circuitpython`` ("10.1.0")."""
    device = site.device(device_id)
    settings = render_settings(site, secrets, device_id).encode("utf-8")
    boot = check_drive(drive, device.id, device.board, force)
    line = bundle.release_line(boot, circuitpython, drive)
    try:
        tree = bundle.build(device.board, line)
    except bundle.BundleError as error:
        raise BridgeError(f"bundle for {device.board}: {error}") from None
    expected = {**tree, Path(CA_FILE): secrets.authority.cert_pem, Path(SETTINGS_FILE): settings}
    check_space(drive, {dest: len(data) for dest, data in expected.items()})

    progress(f"writing {len(expected)} files for {device.board} to {drive}")
    try:
        bundle.install(tree, drive)
        (drive / CA_FILE).write_bytes(secrets.authority.cert_pem)
        _write_settings(drive / SETTINGS_FILE, settings)
        os.sync()
        differing = [
            str(dest) for dest, data in expected.items() if read_back(drive / dest) != data
        ]
    except OSError as error:
        raise BridgeError(f"{drive}: writing failed: {error.strerror or error}") from None
    if differing:
        shown = ", ".join(differing[:3]) + (", ..." if len(differing) > 3 else "")
        raise BridgeError(
            f"{drive}: {len(differing)} files read back different from what was written "
            f"({shown}): the drive may be failing; provision again"
        )
    values = settings_values(site, secrets, device_id)
    return Provisioned(
        device_id=device.id,
        board_id=device.board,
        boot=boot,
        broker=str(values["MQTT_BROKER"]),
        port=int(values["MQTT_PORT"]),
        ssid=str(values["CIRCUITPY_WIFI_SSID"]),
        files=len(expected),
        bytes_written=sum(len(data) for data in expected.values()),
    )
