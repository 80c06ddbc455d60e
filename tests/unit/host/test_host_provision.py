"""``sensor-bridge provision``: a temp directory with a boot_out.txt stands in for CIRCUITPY.

The settings are checked against the firmware's own table and its own ``load_settings``; the
"drive too small" case runs on a real, small file system (a tmpfs in a private mount namespace,
``unshare``), so the free space is what the kernel reports, not a number the test hands in.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sensor_bridge import bundle, tls
from sensor_bridge.local.examples import example_site
from sensor_bridge.provision import (
    board_numbers,
    parse_boot_out,
    render_settings,
    settings_values,
    space_needed,
    toml_string,
)
from sensor_bridge.site import load_secrets, load_site
from sensor_node.settings import SETTINGS, load_settings
from tests.support.cli import run

PICO_2_W = "raspberry_pi_pico2_w"
"""The example site's furnace-1."""
BOOT_OUT = (
    "Adafruit CircuitPython 10.1.0 on 2025-10-09; Raspberry Pi Pico 2 W with rp2350a\n"
    "Board ID:{board}\n"
    "UID:E6614C311B7C8A35\n"
)
DEVICE_ADDRESS = "192.168.1.10"
"""The example site's broker.device_address."""


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    return example_site(tmp_path / "site")


def _drive(tmp_path: Path, board: str | None = PICO_2_W) -> Path:
    drive = tmp_path / "CIRCUITPY"
    drive.mkdir()
    if board is not None:
        (drive / "boot_out.txt").write_text(BOOT_OUT.format(board=board))
    return drive


def _files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_line_refusal(args: list[str], expected: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.output == f"sensor-bridge: {expected}\n"


def test_provision_writes_the_tree_and_settings_from_the_site(
    site_file: Path, tmp_path: Path
) -> None:
    drive = _drive(tmp_path)
    result = run("provision", "furnace-1", "--site", str(site_file), "--drive", str(drive))
    assert result.exit_code == 0, result.output

    written = _files(drive)
    plan = bundle.build(PICO_2_W, bundle.mpy_line("10.1.0", "test"))
    assert set(written) == set(plan) | {
        Path(n) for n in ("settings.toml", "ca.pem", "boot_out.txt")
    }
    assert written[Path("ca.pem")] == (site_file.parent / tls.CA_CERT_FILE).read_bytes()
    for dest, data in plan.items():
        assert written[dest] == data, dest
    assert written[Path("lib/sensor_node/app.mpy")].startswith(b"C\x06"), "CircuitPython's .mpy"
    assert (drive / "settings.toml").stat().st_mode & 0o777 == 0o600

    settings = tomllib.loads(written[Path("settings.toml")].decode())
    assert settings == {
        "CIRCUITPY_WIFI_SSID": "studio-wifi",
        "CIRCUITPY_WIFI_PASSWORD": "change-me-wifi",
        "MQTT_BROKER": DEVICE_ADDRESS,
        "MQTT_PORT": 8883,
        "MQTT_TLS": 1,
        "MQTT_USER": "furnace-1",
        "MQTT_PASSWORD": "change-me-furnace-1",
        "MQTT_TOPIC_ROOT": "furnace",
        "STUDIO_ID": "studio-1",
        "DEVICE_ID": "furnace-1",
    }
    assert set(settings) <= {setting.key for setting in SETTINGS}
    node = load_settings(settings.get, board_numbers(PICO_2_W))
    assert (node["MQTT_BROKER"], node["DEVICE_ID"], node["WATCHDOG_S"]) == (
        DEVICE_ADDRESS,
        "furnace-1",
        8.0,
    )

    assert result.output.splitlines() == [
        f"writing {len(plan) + 2} files for {PICO_2_W} to {drive}",
        f"board     {PICO_2_W} (CircuitPython 10.1.0)",
        f"settings  furnace-1: Wi-Fi 'studio-wifi', broker {DEVICE_ADDRESS}:8883, MQTT user "
        "furnace-1 (passwords not shown)",
        f"verified  {len(plan) + 2} files, "
        f"{sum(len(data) for path, data in written.items() if path.name != 'boot_out.txt') // 1024}"
        " KiB, read back identical",
        "Eject the drive, then press the board's reset button.",
    ]
    assert "change-me" not in result.output


def test_tls_by_default_and_plain_only_for_a_board_the_site_lets_skip_it(site_file: Path) -> None:
    text = site_file.read_text().replace("plain_lan = false", "plain_lan = true")
    site_file.write_text(text.replace("tls = true", "tls = false", 1))
    site = load_site(site_file)
    secrets = load_secrets(site)
    plain, verified = (settings_values(site, secrets, d) for d in ("furnace-1", "glory-hole"))
    assert (plain["MQTT_PORT"], plain["MQTT_TLS"]) == (1883, 0)
    assert (verified["MQTT_PORT"], verified["MQTT_TLS"]) == (8883, 1)


def test_a_plain_board_without_the_plain_lan_listener_is_refused(
    site_file: Path, tmp_path: Path
) -> None:
    site_file.write_text(site_file.read_text().replace("tls = true", "tls = false", 1))
    _one_line_refusal(
        ["provision", "furnace-1", "--site", str(site_file), "--drive", str(_drive(tmp_path))],
        f"{site_file}: file: device furnace-1 has tls = false, but the broker has no plain "
        "listener on the LAN: set plain_lan = true under [broker] (its password then crosses the "
        "LAN in clear), or remove tls = false",
    )


def test_values_are_escaped_for_toml_and_the_board(site_file: Path) -> None:
    tricky = 'a "quoted" \\ pass#word\twith ünïcode \x7f and \x01'
    secrets_file = site_file.parent / "secrets.toml"
    secrets_file.write_text(
        secrets_file.read_text().replace(
            'password = "change-me-wifi"', f"password = {toml_string(tricky)}"
        )
    )
    site = load_site(site_file)
    secrets = load_secrets(site)
    assert secrets.wifi_credentials().password == tricky
    text = render_settings(site, secrets, "glory-hole")
    assert tomllib.loads(text)["CIRCUITPY_WIFI_PASSWORD"] == tricky
    # CircuitPython's reader ends a value at a raw newline and knows no \x escapes.
    assert "\\u007f" in text and "\\u0001" in text and "\\t" in text


def test_a_different_board_is_refused_and_nothing_written(site_file: Path, tmp_path: Path) -> None:
    drive = _drive(tmp_path, board="raspberry_pi_pico_w")
    before = _files(drive)
    _one_line_refusal(
        ["provision", "furnace-1", "--site", str(site_file), "--drive", str(drive)],
        f"{drive}/boot_out.txt says board raspberry_pi_pico_w, but the site file gives "
        f"furnace-1 board {PICO_2_W}: plug in the right board, or correct its board in the site "
        "file",
    )
    assert _files(drive) == before


def test_a_directory_without_boot_out_needs_force(site_file: Path, tmp_path: Path) -> None:
    drive = _drive(tmp_path, board=None)
    args = ["provision", "glory-hole", "--site", str(site_file), "--drive", str(drive)]
    _one_line_refusal(
        args,
        f"{drive}: no boot_out.txt, so not a CIRCUITPY drive: mount the board's drive (or pass "
        "--force to write to a plain directory)",
    )
    assert _files(drive) == {}
    _one_line_refusal(
        [*args, "--force"],
        f"{drive}/boot_out.txt does not exist, so the .mpy format is unknown: mount the board's "
        "CIRCUITPY drive, or pass --circuitpython VERSION (the board's, e.g. 10.1.0), or --source "
        "for the virtual board",
    )
    assert _files(drive) == {}
    result = run(*args, "--force", "--circuitpython", "10.1.0")
    assert result.exit_code == 0, result.output
    assert "board     adafruit_feather_esp32s3_4mbflash_2mbpsram (no boot_out.txt)" in result.output
    assert (drive / "lib" / "boards" / "adafruit_feather_esp32s3_4mbflash_2mbpsram.mpy").is_file()


def test_unknown_device(site_file: Path, tmp_path: Path) -> None:
    drive = _drive(tmp_path)
    _one_line_refusal(
        ["provision", "kiln-3", "--site", str(site_file), "--drive", str(drive)],
        f"{site_file}: no device 'kiln-3'; devices are furnace-1, glory-hole",
    )


def test_a_site_that_does_not_say_where_the_pi_is(site_file: Path, tmp_path: Path) -> None:
    site_file.write_text(site_file.read_text().replace(f'device_address = "{DEVICE_ADDRESS}"', ""))
    _one_line_refusal(
        ["provision", "furnace-1", "--site", str(site_file), "--drive", str(_drive(tmp_path))],
        f"{site_file}: the boards cannot reach the broker at '0.0.0.0': set "
        'device_address = "<the Pi\'s LAN address>" under [broker]',
    )


def test_secrets_without_wifi(site_file: Path, tmp_path: Path) -> None:
    secrets_file = site_file.parent / "secrets.toml"
    section = '[wifi]\nssid = "studio-wifi"\npassword = "change-me-wifi"\n'
    assert section in secrets_file.read_text()
    secrets_file.write_text(secrets_file.read_text().replace(section, ""))
    _one_line_refusal(
        ["provision", "furnace-1", "--site", str(site_file), "--drive", str(_drive(tmp_path))],
        f'{secrets_file}: no Wi-Fi for the boards: add ssid = "..." and password = "..." '
        "under [wifi]",
    )


def test_a_value_the_board_would_refuse(site_file: Path, tmp_path: Path) -> None:
    secrets_file = site_file.parent / "secrets.toml"
    secrets_file.write_text(
        secrets_file.read_text().replace('"change-me-wifi"', '"' + "w" * 64 + '"')
    )
    drive = _drive(tmp_path)
    _one_line_refusal(
        ["provision", "furnace-1", "--site", str(site_file), "--drive", str(drive)],
        f"{secrets_file} [wifi] password: the board would refuse it: CIRCUITPY_WIFI_PASSWORD "
        "must be empty or 8 to 63 characters (or 64 hex digits), got 64",
    )
    assert set(_files(drive)) == {Path("boot_out.txt")}


def test_a_drive_too_small_is_refused(site_file: Path, tmp_path: Path) -> None:
    """A 128 KiB tmpfs (4 KiB blocks) for a tree of about 190 KiB in 4 KiB clusters."""
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed for a small file system"
    drive = tmp_path / "small"
    drive.mkdir()
    script = (
        'mount -t tmpfs -o size=128k none "$1" && printf "$2" > "$1/boot_out.txt" && '
        '"$3" -c "from sensor_bridge.cli import main; main()" provision furnace-1 --site "$4" '
        '--drive "$1"; echo "exit $?"; ls -A "$1"'
    )
    result = subprocess.run(
        [
            *(unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"),
            *(str(drive), BOOT_OUT.format(board=PICO_2_W), sys.executable, str(site_file)),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    refusal = re.fullmatch(
        f"sensor-bridge: {re.escape(str(drive))}: not enough space: the files need "
        r"(\d+) KiB, the drive has (\d+) KiB free: delete what the board does not need \(old "
        r"libraries in lib/, data files\) and provision again\n",
        result.stderr,
    )
    assert refusal, result.stderr
    needed, free = (int(number) for number in refusal.groups())
    assert free < 128 < needed
    assert result.stdout == "exit 2\nboot_out.txt\n"


def test_space_counts_clusters_and_what_is_replaced() -> None:
    assert space_needed([1, 512, 513], [], 512) == 512 + 512 + 1024
    assert space_needed([4000], [100, 100], 4096) == 4096 - 2 * 4096


@pytest.mark.parametrize("version", ["8.2.10", "9.2.1"])
def test_boot_out_is_read_and_a_release_without_tested_mpy_refused(
    site_file: Path, tmp_path: Path, version: str
) -> None:
    boot = parse_boot_out(
        "Adafruit CircuitPython 10.0.3 on 2025-10-17; Adafruit Feather ESP32-S3 4MB Flash 2MB "
        "PSRAM with ESP32S3\r\nBoard ID:adafruit_feather_esp32s3_4mbflash_2mbpsram\r\n"
    )
    assert (boot.version, boot.release, boot.major, boot.board_id) == (
        "CircuitPython 10.0.3",
        "10.0.3",
        10,
        "adafruit_feather_esp32s3_4mbflash_2mbpsram",
    )
    drive = _drive(tmp_path)
    (drive / "boot_out.txt").write_text(BOOT_OUT.format(board=PICO_2_W).replace("10.1.0", version))
    _one_line_refusal(
        ["provision", "furnace-1", "--site", str(site_file), "--drive", str(drive)],
        f"{drive}/boot_out.txt: CircuitPython {version}: no tested .mpy format for its release "
        "line; supported: 10.x (mpy-cross 10.1.0): install CircuitPython 10.x on the board "
        "first (circuitpython.org/downloads)",
    )
    assert set(_files(drive)) == {Path("boot_out.txt")}
