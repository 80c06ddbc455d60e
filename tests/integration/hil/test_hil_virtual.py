"""The HIL suite (tests/hil), unchanged, against the virtual board on a pty: the way CI runs
every case but the manual ones on every change.

A real Mosquitto on the example site's rendered configuration; the site's Feather ESP32-S3
as a virtual board on CircuitPython's VM with the board's heap (the real firmware bundle as
``.mpy``, its settings pointing at that broker over TLS, short periods so the run is quick),
served by ``sensor-bridge virtual-board --engine vm`` on a pty, where the REPL the suite
uses runs on the VM too; then
``pytest tests/hil --port PTY`` as a subprocess, with broker stop/start commands that act on
this test's broker, and a short soak.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sensor_bridge.local import furnaces
from sensor_bridge.local.broker import RenderedMosquitto
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.tools import REPO_ROOT
from sensor_bridge.render import mosquitto
from sensor_bridge.tree import write_tree
from sensor_bridge.virtual.control import VirtualBoardControl
from tests.integration.hil.broker_switch import BrokerSwitch

pytestmark = pytest.mark.slow

FEATHER_S3 = "adafruit_feather_esp32s3_4mbflash_2mbpsram"
"""The site's board over TLS: a Pico W's heap has no room for the TLS handshake beside its
default buffer (README, "Boards and TLS"; test_vm_heap.py)."""
SETTINGS = {"SAMPLE_PERIOD_S": 1, "KEEPALIVE_S": 5, "HEALTH_PERIOD_S": 10, "PRODUCTION": 1}
SOAK_HOURS = 0.0065
"""23 s: two health reports at HEALTH_PERIOD_S = 10."""
SUITE_TIMEOUT_S = 150
LOOPBACK = "127.0.0.1"
"""Where the board and the suite reach the broker here: its certificate names it."""


def _suite_site(site_file: Path, port: int) -> Path:
    """The site file with the broker's TLS listener where the test started it, on loopback."""
    text = site_file.read_text()
    for pattern, replacement in (
        (r"(?m)^port = 8883$", f"port = {port}"),
        (r'(?m)^device_address = ".*"$', f'device_address = "{LOOPBACK}"'),
    ):
        text, count = re.subn(pattern, replacement, text, count=1)
        assert count == 1, pattern
    path = site_file.with_name("site-hil.toml")
    path.write_text(text)
    return path


def test_the_hil_suite_passes_against_the_virtual_board(tmp_path: Path) -> None:
    context = example_context(tmp_path / "site")
    site, secrets = context.site, context.secrets
    device = next(d for d in site.devices if d.board == FEATHER_S3)
    broker_settings = site.broker.model_copy(update={"device_address": LOOPBACK})
    files = mosquitto.render(
        dataclasses.replace(context, site=site.model_copy(update={"broker": broker_settings}))
    )
    write_tree(tmp_path / "tree", files)
    conf = next(f for f in files if f.path == mosquitto.CONF_PATH)
    (tmp_path / "broker").mkdir()
    cli = Path(sys.executable).with_name("sensor-bridge")
    with RenderedMosquitto(tmp_path / "broker", tmp_path / "tree", conf) as broker:
        drive = furnaces.make_drive(
            tmp_path / "drive",
            device.board,
            furnaces.settings(
                site, secrets, device, furnaces.board_port(site, broker.ports), **SETTINGS
            ),
            secrets.authority.cert_pem,
            engine="vm",
        )
        link = tmp_path / "ttyVIRTUAL0"
        control = tmp_path / "control.sock"
        board_log = (tmp_path / "board.log").open("w")
        board = subprocess.Popen(
            [
                *(str(cli), "virtual-board", "--drive", str(drive)),
                *("--engine", "vm", "--pty-link", str(link), "--control", str(control)),
            ],
            stdout=subprocess.PIPE,
            stderr=board_log,
            text=True,
        )
        try:
            assert board.stdout is not None
            assert board.stdout.readline().startswith("/dev/")
            with BrokerSwitch(broker, tmp_path / "switch.sock") as switch:
                options = {
                    "--port": str(link),
                    "--site": str(_suite_site(site.path, broker.ports[site.broker.port])),
                    "--device": device.id,
                    "--broker-stop": switch.command("stop"),
                    "--broker-start": switch.command("start"),
                    "--outage": "5",
                    "--settle": "4",
                    "--boot-bound": "15",
                    "--soak": str(SOAK_HOURS),
                }
                suite = subprocess.Popen(
                    [sys.executable, "-m", "pytest", "tests/hil", "-p", "no:cacheprovider"]
                    + [part for pair in options.items() for part in pair],
                    cwd=REPO_ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                try:
                    output, _ = suite.communicate(timeout=SUITE_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    suite.kill()
                    output, _ = suite.communicate()
                    pytest.fail(
                        f"the HIL suite ran past {SUITE_TIMEOUT_S} s: {output[-6000:]}"
                        + (tmp_path / "board.log").read_text()[-3000:]
                    )
            # The suite's last reset was the liveness case's microcontroller.reset(); the soft
            # reboots after it keep that reset reason, as on CircuitPython.
            status = VirtualBoardControl(control).send({"cmd": "status"})
        finally:
            board.terminate()
            board.wait(10)
            assert board.stdout is not None
            board.stdout.close()
            board_log.close()
    assert suite.returncode == 0, output[-6000:] + (tmp_path / "board.log").read_text()[-3000:]
    assert status["boot_reset_reason"] == "SOFTWARE", status
    report = output[output.index("HIL report") :]
    for measured in (
        "Adafruit CircuitPython",
        "soft reboot to retained birth",
        "period (board clock)",
        "cold junction",
        "offline after",
        "readings replayed on backfill",
        "free memory trend",
        "thermocouple unplugged: needs a person",
    ):
        assert measured in report, report
    assert re.search(r"\b7 passed, 1 deselected\b", output), output[-2000:]
    print(report)
