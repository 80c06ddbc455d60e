"""``python -m sensor_bridge.demo`` (``hatch run demo``): options, and the two processes it runs.

The command itself only supervises: it starts the demo proper (the engine, this same module
with ``ENGINE_ENV`` set) in a session of its own and hands it Ctrl-C. In the terminal's
process group, every service and board the demo starts would get Ctrl-C too and die before
the demo could read back what they stored; in their own session they are stopped by the
demo, in order, after the summary's figures are in.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType

from sensor_bridge.demo.scenarios import DEFAULT_SCENARIO, SCENARIOS, timeline
from sensor_bridge.errors import BridgeError

ENGINE_ENV = "SENSOR_BRIDGE_DEMO_ENGINE"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEFAULT_OUT = Path(tempfile.gettempdir()) / "sensor-pipeline-demo"

SPEED_HELP = (
    "play the scenario's timeline X times faster: its step times and its end are divided by X. "
    "Only the timeline: the furnaces, the storage and the alert rules stay in real time, as the "
    "boards' timestamps must be real for VictoriaMetrics and vmalert, so an alert still takes "
    "its real delay (a flame out ~20 s to page) and, at high X, a step may come before the "
    "alert of the one before it. Default 1."
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="hatch run demo",
        description=(
            "The whole pipeline on this machine: Mosquitto, the pipeline, VictoriaMetrics, "
            "vmalert and Alertmanager (a local receiver stands in for Grafana IRM) on loopback "
            "ports, and two virtual furnaces running the real firmware, playing a scenario. "
            "On exit (or Ctrl-C) everything stops, a summary is printed and a plot written."
        ),
    )
    parser.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help=f"what happens during the run (default {DEFAULT_SCENARIO}; see --list-scenarios)",
    )
    parser.add_argument(
        "--duration",
        type=_positive,
        metavar="S",
        help="end the run S seconds after the scenario starts (default: the scenario's end)",
    )
    parser.add_argument("--speed", type=_positive, default=1.0, metavar="X", help=SPEED_HELP)
    parser.add_argument(
        "--list-scenarios", action="store_true", help="list the scenarios and their steps"
    )
    parser.add_argument(
        "--no-live",
        action="store_true",
        help="plain log lines instead of the live view (automatic when stdout is not a terminal)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"where the plot and the summary go (default {DEFAULT_OUT})",
    )
    return parser.parse_args(argv)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.list_scenarios:
        print(scenario_listing())
        return 0
    if os.environ.get(ENGINE_ENV) != str(os.getppid()):
        return supervise(argv)
    try:
        return engine(args)
    except BridgeError as error:
        print(f"demo: {error}", file=sys.stderr)
        return EXIT_USAGE


def supervise(argv: list[str]) -> int:
    """Run the engine in its own session; Ctrl-C and SIGTERM become its Ctrl-C."""
    env = {**os.environ, ENGINE_ENV: str(os.getpid())}
    engine_process = subprocess.Popen(
        [sys.executable, "-m", "sensor_bridge.demo", *argv], env=env, start_new_session=True
    )

    def forward(signum: int, frame: FrameType | None) -> None:
        engine_process.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return engine_process.wait()


def engine(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sensor_bridge.demo.display import LiveDisplay, PlainDisplay
    from sensor_bridge.demo.plot import write_plot
    from sensor_bridge.demo.run import Options, Session
    from sensor_bridge.demo.summary import summary_lines

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    scenario = timeline(SCENARIOS[args.scenario], speed=args.speed, duration_s=args.duration)
    options = Options(args.scenario, scenario)
    console = Console()
    live = not args.no_live and console.is_terminal
    display = LiveDisplay(console) if live else PlainDisplay()
    workdir = Path(tempfile.mkdtemp(prefix="sensor-demo-"))
    try:
        with display:
            record = Session(options, workdir, display).run()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    lines = summary_lines(record)
    args.out.mkdir(parents=True, exist_ok=True)
    plot = write_plot(record, args.out / f"{args.scenario}.png")
    lines.append(f"plot: {plot}")
    (args.out / f"{args.scenario}-summary.txt").write_text("\n".join(lines) + "\n")
    for line in lines:
        print(line, flush=True)
    return EXIT_INTERRUPTED if record.interrupted else 0
