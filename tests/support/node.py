"""A sensor node for tests: the real firmware bundle for a board, its settings.toml, and
the virtual board running it against a broker started by the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sensor_bridge.local import furnaces
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_protocol.payloads import decode_readings
from tests.support.recorder import Message, Recorder

STUDIO = "studio1"
DEVICE = "furnace1"
PICO_W = "raspberry_pi_pico_w"
FEATHER_S3 = "adafruit_feather_esp32s3_4mbflash_2mbpsram"

# The furnace model's rod reads 3.3-3.7 V: a 2:1 divider keeps the Pico's ADC in range.
BASE_SETTINGS: dict[str, Any] = {
    "CIRCUITPY_WIFI_SSID": "studio-wifi",
    "CIRCUITPY_WIFI_PASSWORD": "studio-pass",
    "MQTT_BROKER": "127.0.0.1",
    "STUDIO_ID": STUDIO,
    "DEVICE_ID": DEVICE,
    "FLAME_DIVIDER_RATIO": "2.0",
    # The test broker's plain listener; the TLS tests set their own (tests/support/tls.py).
    "MQTT_TLS": 0,
}


def make_drive(
    path: Path, board: str, broker_port: int, *, ca_pem: Any = None, **overrides: Any
) -> Path:
    """A CIRCUITPY tree for ``board`` with settings pointing at the test broker; with
    ``ca_pem``, over TLS verified against that CA (written as ca.pem).

    An override of None removes the key (to test a missing setting).
    """
    tls = {"MQTT_TLS": 1} if ca_pem is not None else {}
    settings = {**BASE_SETTINGS, "MQTT_PORT": broker_port, **tls, **overrides}
    furnaces.make_drive(path, board, {k: v for k, v in settings.items() if v is not None})
    if ca_pem is not None:
        (path / "ca.pem").write_bytes(ca_pem)
    return path


def topic(channel: str, device: str = DEVICE) -> str:
    return f"furnace/{STUDIO}/{device}/{channel}"


def readings(recorder: Recorder, channel: str) -> list[tuple[Message, dict[str, Any]]]:
    """Every reading received on ``channel``, with the message that carried it, in order."""
    found = []
    for message in recorder.on(f"/{channel}$"):
        payload = decode_readings(message.payload)
        for reading in payload["readings"]:
            found.append(
                (message, {**reading, "boot": payload["boot"], "sent_up_ms": payload["sent_up_ms"]})
            )
    return found


def boot_line(board: VirtualBoardProcess, timeout: float = 30.0) -> str:
    return board.wait_for(r" INFO boot ", timeout)


def boots(board: VirtualBoardProcess) -> int:
    """How many times the firmware has booted on ``board`` so far."""
    return sum(" INFO boot " in line for line in board.lines)


UNUSABLE_SETTINGS = [
    # CircuitPython 9.0-10.1: os.getenv raises ValueError (shared-module/os/getenv.c).
    ({"FLAME_DIVIDER_RATIO": None}, "FLAME_DIVIDER_RATIO = 3.27", "FLAME_DIVIDER_RATIO"),
    # wifi.radio.connect would raise ValueError at the next join (8 to 64 bytes).
    ({"CIRCUITPY_WIFI_PASSWORD": "short"}, "", "CIRCUITPY_WIFI_PASSWORD"),
    # MiniMQTT 8.1.0 would call None.encode() at the connect.
    ({"MQTT_USER": "furnace1"}, "", "MQTT_PASSWORD"),
]
"""(settings overrides, a line added to settings.toml, the key the settings error names):
settings a board cannot use (issue 12, findings 7 and 8)."""
