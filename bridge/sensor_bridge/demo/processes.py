"""The two processes of ``sensor-bridge demo``: the command supervises, the engine runs.

The command only supervises: it starts the demo proper (the engine: the same command again,
with ``ENGINE_ENV`` set) in a session of its own and hands it Ctrl-C. In the terminal's
process group, every service and board the demo starts would get Ctrl-C too and die before
the demo could read back what they stored; in their own session they are stopped by the
demo, in order, after the summary's figures are in.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType

from sensor_bridge.demo.scenarios import DEFAULT_SCENARIO, SCENARIOS, timeline

ENGINE_ENV = "SENSOR_BRIDGE_DEMO_ENGINE"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "sensor-pipeline-demo"


def scenario_listing() -> str:
    from sensor_bridge.demo.actions import describe

    lines = []
    for name, scenario in SCENARIOS.items():
        default = " (default)" if name == DEFAULT_SCENARIO else ""
        lines.append(f"{name}{default}: {scenario.description} [{scenario.end_s:.0f} s]")
        for step in scenario.steps:
            action = describe(step.action, step.device) or "note"
            lines.append(f"  {step.at_s:5.0f} s  {action}: {step.expect}".rstrip(": "))
    return "\n".join(lines)


def is_engine() -> bool:
    """Whether this process is the engine its parent (the command) started."""
    return os.environ.get(ENGINE_ENV) == str(os.getppid())


def supervise(argv: list[str]) -> int:
    """Run the engine (``sensor-bridge demo`` with the options ``argv``) in its own session;
    Ctrl-C and SIGTERM become its Ctrl-C. Returns the engine's exit status."""
    env = {**os.environ, ENGINE_ENV: str(os.getpid())}
    engine_process = subprocess.Popen(
        [sys.executable, "-m", "sensor_bridge", "demo", *argv], env=env, start_new_session=True
    )

    def forward(signum: int, frame: FrameType | None) -> None:
        engine_process.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return engine_process.wait()


def engine(
    scenario_name: str, speed: float, duration_s: float | None, live: bool, out: Path
) -> bool:
    """Play ``scenario_name`` on the local stack, then print the summary and write it and the
    plot into ``out``; whether the run was interrupted."""
    from rich.console import Console

    from sensor_bridge.demo.display import LiveDisplay, PlainDisplay
    from sensor_bridge.demo.plot import write_plot
    from sensor_bridge.demo.run import Options, Session
    from sensor_bridge.demo.summary import summary_lines

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    scenario = timeline(SCENARIOS[scenario_name], speed=speed, duration_s=duration_s)
    options = Options(scenario_name, scenario)
    console = Console()
    display = LiveDisplay(console) if live and console.is_terminal else PlainDisplay()
    workdir = Path(tempfile.mkdtemp(prefix="sensor-demo-"))
    try:
        with display:
            record = Session(options, workdir, display).run()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    lines = summary_lines(record)
    out.mkdir(parents=True, exist_ok=True)
    plot = write_plot(record, out / f"{scenario_name}.png")
    lines.append(f"plot: {plot}")
    (out / f"{scenario_name}-summary.txt").write_text("\n".join(lines) + "\n")
    for line in lines:
        print(line, flush=True)
    return record.interrupted
