"""The bench: one board on a serial port, the broker it publishes to, and what the suite
learned about both. Every case gets the same ``Bench`` (a session fixture).

The board is asked about itself once, over the raw REPL (``BOARD_FACTS``): its board id,
firmware and schema versions, the ADC's full scale and the settings the firmware validated.
That works on any board running the firmware, real or virtual, and needs nothing else.
"""

from __future__ import annotations

import ast
import json
import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.hil.broker_watch import BrokerWatch, is_birth, readings
from tests.hil.report import Report
from tests.hil.serial_board import SerialBoard
from tests.support.recorder import Message

SETTINGS_FILE = "settings.toml"
FACT_SETTINGS = (
    "MQTT_TOPIC_ROOT",
    "STUDIO_ID",
    "DEVICE_ID",
    "SAMPLE_PERIOD_S",
    "HEALTH_PERIOD_S",
    "KEEPALIVE_S",
    "FLAME_DIVIDER_RATIO",
    "FLAME_OFFSET_V",
    "WATCHDOG_S",
    "PRODUCTION",
)
"""Settings the cases need; never the passwords."""

BOARD_FACTS = f"""
import board, json, os, sensor_protocol
from sensor_node import __version__
from sensor_node.boot import load_board_module
from sensor_node.settings import load_settings
module = load_board_module(board.board_id)
values = load_settings(os.getenv, module)
print(json.dumps({{
    "board": board.board_id,
    "fw": __version__,
    "schema": sensor_protocol.SCHEMA_VERSION,
    "adc_full_scale_v": module.ADC_VOLTS_PER_COUNT * 65535,
    "settings": {{key: values[key] for key in {FACT_SETTINGS!r}}},
}}))
"""

READ_SETTINGS = f"print(repr(open({SETTINGS_FILE!r}, 'rb').read()))"
WRITE_SETTINGS = "open({name!r}, 'wb').write({data!r})"
BOOT_LINE = r" INFO boot "


@dataclass(frozen=True)
class Options:
    port: str
    device: str | None
    broker_stop: str | None
    broker_start: str | None
    outage_s: float | None
    reset_cmd: str | None
    drive: Path | None
    manual: bool
    soak_hours: float | None
    loop_budget_s: float
    settle_s: float
    boot_bound_s: float


@dataclass(frozen=True)
class Boot:
    """One boot of the board as the suite saw it."""

    banner: list[str]
    """CircuitPython's lines before the program (``soft reboot``, auto-reload, ...)."""
    boot_line: str
    """The firmware's ``INFO boot`` line."""
    started: float
    """Host time (monotonic) when the boot was asked for."""
    console_mark: int
    watch_mark: int


class Bench:
    def __init__(
        self, options: Options, board: SerialBoard, watch: BrokerWatch, report: Report
    ) -> None:
        self.options = options
        self.board = board
        self.watch = watch
        self.report = report
        self.facts: dict[str, Any] = {}
        self.version_banner = ""
        self.at_repl = False

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.facts["settings"])

    @property
    def sample_period_s(self) -> float:
        return float(self.settings["SAMPLE_PERIOD_S"])

    @property
    def keepalive_s(self) -> float:
        return float(self.settings["KEEPALIVE_S"])

    # --- the console ------------------------------------------------------------------

    def repl(self) -> None:
        banner = self.board.enter_repl()
        self.version_banner = banner or self.version_banner
        self.at_repl = True

    def learn(self) -> None:
        """Ask the board (at the REPL) about itself."""
        self.facts = json.loads(self.board.exec_raw(BOARD_FACTS).strip().splitlines()[-1])

    def reboot(self) -> Boot:
        """Soft-reboot from the REPL and wait for the firmware's boot line."""
        watch_mark = self.watch.mark()
        started = time.monotonic()
        banner, mark = self.board.soft_reboot()
        self.at_repl = False
        line, _ = self.board.wait_line(BOOT_LINE, 20, mark)
        return Boot(banner, line, started, mark, watch_mark)

    def running(self) -> None:
        """The program runs (after a soft reboot if the board is at the REPL)."""
        if self.at_repl:
            self.reboot()

    def fresh_reading(self, timeout: float | None = None) -> Message:
        """The next live reading published from now on."""
        self.running()
        wait = timeout if timeout is not None else 3 * self.sample_period_s + 30
        return self.watch.wait_for(
            lambda m: m.channel == "telemetry", wait, after=self.watch.mark()
        )

    def birth_after(self, mark: int, timeout: float) -> Message:
        return self.watch.wait_for(is_birth, timeout, after=mark)

    def live_readings(self, count: int) -> list[tuple[Message, dict[str, Any]]]:
        """``count`` consecutive live readings of one boot, from the next one on."""
        first = self.fresh_reading()
        start = self.watch.messages.index(first)
        timeout = count * self.sample_period_s * 2 + 10
        deadline = time.monotonic() + timeout
        while True:
            found = readings(self.watch.since(start), "telemetry")
            if len(found) >= count:
                return found[:count]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} readings in {timeout:.0f} s")
            time.sleep(0.2)

    # --- settings.toml ----------------------------------------------------------------

    def read_settings_file(self) -> bytes:
        if self.options.drive is not None:
            return (self.options.drive / SETTINGS_FILE).read_bytes()
        data = ast.literal_eval(self.board.exec_raw(READ_SETTINGS).strip())
        if not isinstance(data, bytes):
            raise TypeError(f"the board sent {data!r}")
        return data

    def write_settings_file(self, data: bytes) -> None:
        """Write settings.toml: through the host's mount of the drive (``--drive``), else
        from the REPL (which needs a boot.py that made CIRCUITPY writable to code)."""
        if self.options.drive is not None:
            path = self.options.drive / SETTINGS_FILE
            with path.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            return
        self.board.exec_raw(WRITE_SETTINGS.format(name=SETTINGS_FILE, data=data))

    # --- the bench around the board ---------------------------------------------------

    def run_command(self, command: str, what: str) -> None:
        done = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{what} ({command!r}) failed with {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()[-500:]}"
            )
