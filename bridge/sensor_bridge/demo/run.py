"""One demo run: the example site on the local stack, two virtual furnaces running the real
firmware, a scenario played against them, and everything stopped at the end, whatever ends it.

Order of the end (normal, Ctrl-C or an error): the boards stop first, the run waits until what
they published is stored, reads back the stored readings and series, then the stack stops;
the summary and the plot are made from what was read back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sensor_bridge.alerting import durations
from sensor_bridge.alerting.alerts import DEVICE_LABEL
from sensor_bridge.alerting.promql import FLAME, SEQUENCE, TEMPERATURE
from sensor_bridge.demo.actions import ACTIONS, Rig, describe
from sensor_bridge.demo.alert_log import AlertLog
from sensor_bridge.demo.links import BoardLinks
from sensor_bridge.demo.observer import Observer
from sensor_bridge.demo.scenarios import Scenario
from sensor_bridge.demo.stored import stored_series, wait_stored
from sensor_bridge.demo.summary import POLL_S, RunRecord, StepDone, pipeline_text
from sensor_bridge.demo.view import Frame
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.furnaces import virtual_furnace
from sensor_bridge.local.stack import LocalStack
from sensor_bridge.site import Paging
from sensor_bridge.store import queries
from sensor_bridge.virtual.launcher import VirtualBoardProcess

TICK_S = POLL_S
"""How often the view is redrawn and vmalert asked for its alerts."""

BOARD_SETTINGS: dict[str, Any] = {"SAMPLE_PERIOD_S": 1, "HEALTH_PERIOD_S": 10}
"""A reading a second and a health report every 10 s make a lively view (defaults: 5 s, 60 s)."""

SYSTEM_PAGING = Paging(group_wait="30s", group_interval="30s", repeat_interval="4h")
"""The site's wait for system alerts, with a group interval short enough that an all-clear
shows within the run (the site: 5 min). Shop alerts page as the site says."""

ENGINE_TEXT = {
    "cpython": "its source on CPython",
    "vm": "the .mpy bundle on CircuitPython 10.1's own VM, with the board's heap",
}
"""The last furnace runs on CircuitPython's VM (the firmware exactly as a board runs it); the
others on CPython, which starts faster and shows allocation traces."""

WORKING_BELOW_SETPOINT_C = 5.0
FIRST_READINGS_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 15.0


class Display(Protocol):
    def show(self, frame: Frame) -> None: ...

    def event(self, elapsed_s: float | None, text: str) -> None: ...


@dataclass(frozen=True)
class Options:
    scenario_name: str
    scenario: Scenario
    """The scenario as played: speed and duration applied."""


class Session:
    def __init__(self, options: Options, workdir: Path, display: Display) -> None:
        self.options = options
        self.workdir = workdir
        self.display = display
        self.context = example_context(workdir / "site")
        site = self.context.site
        self.record = RunRecord(options.scenario_name, site.alerts.temperature_unit)
        self.stack = LocalStack(
            self.context,
            workdir / "stack",
            paging=self.context.site.alertmanager.model_copy(update={"system": SYSTEM_PAGING}),
            defer_rules=True,
        )
        self.alerts = AlertLog()
        self.events: list[str] = []
        self.phase = "starting the stack"
        self.boards: dict[str, VirtualBoardProcess] = {}
        self.engines: dict[str, str] = {}
        self.observer: Observer | None = None
        self.links = BoardLinks({})
        self._parent = os.getppid()

    def run(self) -> RunRecord:
        """Start, play, stop; Ctrl-C (KeyboardInterrupt) ends the play early, never the stop."""
        with contextlib.ExitStack() as running:
            try:
                self._start(running)
                self._play()
            except KeyboardInterrupt:
                self.record.interrupted = True
                self._event("interrupted: stopping")
            finally:
                with _signals_held():
                    try:
                        self._finish()
                    finally:
                        running.close()
        return self.record

    # --- start ---------------------------------------------------------------------------

    def _start(self, running: contextlib.ExitStack) -> None:
        site, secrets = self.context.site, self.context.secrets
        self._event("starting Mosquitto, VictoriaMetrics, Alertmanager and the pipeline")
        running.callback(self.stack.stop)
        self.stack.start()
        self.record.pipeline = self.stack.pipeline_kind
        self._event(f"pipeline: {pipeline_text(self.stack.pipeline_kind)}")
        self.observer = Observer(self.context, self.stack.broker_port)
        running.callback(self.observer.stop)
        self.observer.start()
        for seed, device in enumerate(site.devices, start=1):
            engine = self._engine(seed)
            # A furnace model seed each, so the two furnaces do not draw the same curve.
            self.boards[device.id] = virtual_furnace(
                site,
                secrets,
                device,
                self.stack.board_port,
                self.workdir / "boards",
                overrides=BOARD_SETTINGS,
                engine=engine,
                extra_args=["--seed", str(seed)],
            )
            self.engines[device.id] = engine
        self.links = BoardLinks(self.boards)
        for device in site.devices:
            board = self.boards[device.id]
            running.callback(board.stop)
            board.start()
            # The model starts 100 °C under its set point, at the example's too-cold limit; a
            # studio's furnace runs day and night, so the demo starts it at working heat.
            setpoint = board.status()["furnace"]["setpoint_c"]
            board.control.send({"cmd": "furnace", "temp_c": setpoint - WORKING_BELOW_SETPOINT_C})
            self._event(
                f"{device.id}: a virtual {device.board} boots the firmware "
                f"({ENGINE_TEXT[self.engines[device.id]]})"
            )
        self.phase = "waiting until vmalert would see both furnaces' first readings"
        deadline = time.monotonic() + FIRST_READINGS_TIMEOUT_S
        while not self._readings_visible():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no reading from every furnace after {FIRST_READINGS_TIMEOUT_S:.0f} s"
                )
            self._tick(None)
        # On an empty store every device would be "no data" until its first reading.
        self.stack.start_rules()
        self.record.started_at = time.time()
        self._event(
            "both furnaces publish; alert rules running (on a store seconds old, ServiceDown is "
            "pending until the services' first up samples are visible: its 1 min hold keeps it "
            "from firing, as on a Pi that boots)"
        )

    def _engine(self, seed: int) -> str:
        """The virtual board's engine for the ``seed``-th device (ENGINE_TEXT)."""
        return "vm" if seed == len(self.context.site.devices) else "cpython"

    def _readings_visible(self) -> bool:
        """Whether vmalert, evaluating ``latency_offset`` in the past, finds every device."""
        site = self.context.site
        at = time.time() - durations.seconds(site.storage.latency_offset)
        query = queries.devices_with(SEQUENCE, site.studio)
        seen = {row["metric"].get(DEVICE_LABEL) for row in self.stack.storage.query(query, at)}
        return all(device.id in seen for device in site.devices)

    # --- play ----------------------------------------------------------------------------

    def _play(self) -> None:
        scenario = self.options.scenario
        assert self.record.started_at is not None
        zero = time.monotonic()
        pending = list(scenario.steps)
        self.phase = "normal firing"
        while (elapsed := time.monotonic() - zero) < scenario.end_s:
            while pending and pending[0].at_s <= elapsed:
                step = pending.pop(0)
                text = describe(step.action, step.device)
                self.phase = " — ".join(part for part in (text, step.expect) if part)
                self._event(f"step: {text or 'note'}: {step.expect}".rstrip(": "))
                ACTIONS[step.action].run(Rig(self.stack, self.boards), step.device)
                self.record.steps.append(StepDone(time.time(), step))
            self._tick(elapsed)

    def _tick(self, elapsed: float | None) -> None:
        if os.getppid() != self._parent:
            raise KeyboardInterrupt  # whoever ran the demo is gone: stop as on Ctrl-C
        for news in self.links.poll():
            self._event(news.text())
        if self.stack.rules.running:
            try:
                listed = self.stack.firing()
            except OSError:
                listed = None  # vmalert busy or restarting: keep the last state
            if listed is not None:
                for line in self.alerts.update(listed, self.stack.receiver.notified()):
                    self._event(line)
        self.display.show(self._frame(elapsed))
        time.sleep(TICK_S)

    def _frame(self, elapsed: float | None) -> Frame:
        return Frame(
            scenario=self.options.scenario_name,
            pipeline=pipeline_text(self.record.pipeline),
            unit=self.record.unit,
            elapsed_s=elapsed,
            end_s=self.options.scenario.end_s,
            phase=self.phase,
            devices=self.observer.snapshot() if self.observer else {},
            links=dict(self.links.states),
            alerts=self.alerts.records,
            events=self.events,
        )

    def _event(self, text: str) -> None:
        zero = self.record.started_at
        elapsed = None if zero is None else time.time() - zero
        stamp = "start" if elapsed is None else f"{elapsed:5.1f} s"
        self.events.append(f"[{stamp}] {text}")
        self.display.event(elapsed, text)

    # --- finish --------------------------------------------------------------------------

    def _finish(self) -> None:
        self.record.ended_at = time.time()
        for board in self.boards.values():
            board.stop()
        if self.observer is None or not self.stack.storage.healthy():
            return
        site = self.context.site
        observer = self.observer
        self._event("boards stopped; waiting for what they published to be stored")
        self.record.stored = wait_stored(
            self.stack.storage, site, observer.published, DRAIN_TIMEOUT_S
        )
        self.record.published = observer.published()
        self.record.temperature = stored_series(self.stack.storage, site, TEMPERATURE)
        self.record.flame = stored_series(self.stack.storage, site, FLAME)
        if self.stack.rules.running:
            with contextlib.suppress(OSError):
                self.alerts.update(self.stack.firing(), self.stack.receiver.notified())
        self.record.alerts = self.alerts.records
        self.record.heartbeats = self.alerts.heartbeats


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """While the run reads back its results and stops its processes, another Ctrl-C must not
    cut that short and leave some of them behind."""
    held = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in held.items():
            signal.signal(sig, handler)
