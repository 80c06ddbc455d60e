"""``python -m sensor_bridge.virtual``: boot a CIRCUITPY tree as CircuitPython would.

Order matters: the fake modules go into ``sys.modules`` (over Blinka's) before anything
of the drive is imported; ``sys.path`` becomes the drive, its ``lib`` and the standard
library (a library missing from the drive fails here as on the board); ``os.environ``
holds ``settings.toml`` and nothing else; then ``code.py`` (or ``safemode.py``) runs as
``__main__``. When it ends the board idles, like a board waiting for a reload.

Lines of the board itself (not of the program) go to stderr and start with ``VIRTUAL``.
With ``--console-fd`` the console is a pseudo-terminal that behaves as CircuitPython's USB
console (``serial_console``): Ctrl-C, the REPL, soft reboots.
"""

import importlib
import io
import os
import sys
import threading
import time as _real_time
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

import click

from sensor_bridge.commands import EXIT_USAGE
from sensor_bridge.errors import BridgeError
from sensor_bridge.virtual import handoff as handoffs
from sensor_bridge.virtual.allocations import AllocationProbe
from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.commands import Commands
from sensor_bridge.virtual.control_server import ControlServer
from sensor_bridge.virtual.hardware import BootInfo, VirtualBoard
from sensor_bridge.virtual.install import install_circuitpython
from sensor_bridge.virtual.modules import NextRun, build_modules
from sensor_bridge.virtual.options import board_options, check
from sensor_bridge.virtual.pins import board_spec
from sensor_bridge.virtual.program import run_program
from sensor_bridge.virtual.scenario import ScenarioRunner, load_scenario
from sensor_bridge.virtual.serial_console import PtyConsole, SerialConsole
from sensor_bridge.virtual.settings import SettingValue, load_settings
from sensor_bridge.virtual.thermocouple import BY_NAME
from sensor_bridge.virtual.wdt import WatchdogMonitor

PROG = "python -m sensor_bridge.virtual"
PARENT_POLL_S = 0.5


@click.command()
@board_options
@click.option(
    "--console-fd",
    type=int,
    metavar="FD",
    help="Serve the console on this pseudo-terminal (master side) as CircuitPython's USB "
    "console: Ctrl-C, the REPL, Ctrl-D (sensor-bridge virtual-board passes it). Default: the "
    "program's output on stdout.",
)
def _board(**options: Any) -> SimpleNamespace:
    """Boot a CIRCUITPY tree (code.py, lib/) on emulated CircuitPython hardware: one process
    is one board. Users start it with `sensor-bridge virtual-board`."""
    check(options)
    return SimpleNamespace(**options)


def parse_args(argv: list[str]) -> SimpleNamespace:
    """The board's options; click.UsageError on a bad one, click's Exit after ``--help``."""
    with _board.make_context(PROG, list(argv)) as ctx:
        args: SimpleNamespace = _board.invoke(ctx)
    return args


def detect_board(drive: Path) -> str:
    """The board id of the one board module in DRIVE/lib/boards/."""
    found = sorted(
        {
            path.stem
            for path in (drive / "lib" / "boards").glob("*.*py")
            if path.suffix in (".py", ".mpy") and path.stem != "__init__"
        }
    )
    if len(found) != 1:
        raise click.UsageError(
            f"cannot tell the board from {drive / 'lib' / 'boards'} "
            f"(found {found or 'none'}): pass --board"
        )
    return found[0]


def main(argv: list[str] | None = None) -> int:
    """Boot the board (this never returns once it runs); the exit status of a refusal."""
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)
    try:
        args = parse_args(argv)
        if args.engine == "vm":
            from sensor_bridge.virtual.vm.engine import VmRunner

            runner: Runner = VmRunner(args, argv, args.drive)
        else:
            runner = Runner(args, argv, args.drive)
    except click.exceptions.Exit as done:
        return done.exit_code
    except (click.UsageError, BridgeError) as error:
        message = error.format_message() if isinstance(error, click.UsageError) else error
        print(f"VIRTUAL {message}", file=sys.stderr)
        return EXIT_USAGE
    runner.boot()


class Runner:
    def __init__(self, args: SimpleNamespace, argv: list[str], drive: Path) -> None:
        self._args = args
        self._argv = argv
        self._drive = drive
        self._handoff = handoffs.take()
        self._host_env = dict(os.environ)
        self._host_cwd = os.getcwd()
        self._reboot_lock = threading.Lock()
        self._last_traceback: str | None = None
        self._state_dir = Path(args.state_dir).resolve() if args.state_dir else drive / ".virtual"
        self._state_dir.mkdir(parents=True, exist_ok=True)
        self._settings = load_settings(drive / "settings.toml")
        self.board = self._build_board(args.board or detect_board(drive))
        self._next_run = NextRun()
        self._console = (
            None
            if args.console_fd is None
            else self._make_console(args.console_fd, (self._handoff or {}).get("console"))
        )

    def _make_console(self, fd: int, handoff: dict[str, Any] | None) -> PtyConsole:
        return SerialConsole(fd, handoff)

    @property
    def drive(self) -> Path:
        return self._drive

    # --- assembly ---------------------------------------------------------------------

    def _build_board(self, board_id: str) -> VirtualBoard:
        args, handoff = self._args, self._handoff
        probe = str(self._settings.get("TC_TYPE", "K")).upper()
        if handoff is None:
            clock = VirtualClock(speed=args.speed)
            boot = BootInfo("POWER_ON", safe_mode_reason=args.safe_mode or "NONE")
            epoch = _real_time.time() if args.epoch is None else args.epoch
        else:
            speed = float(handoff["speed"])
            physical = (
                handoff["physical_s"] + (_real_time.monotonic() - handoff["real_mono"]) * speed
            )
            soft = handoff.get("soft") or {}
            clock = VirtualClock(
                speed=speed, physical_s=physical, boot_physical_s=soft.get("boot_physical_s")
            )
            boot = BootInfo(
                handoff["reset_reason"],
                run_reason=handoff["run_reason"],
                safe_mode_reason=handoff.get("safe_mode_reason") or args.safe_mode or "NONE",
                previous_traceback=handoff.get("traceback"),
                next_code_file=handoff.get("next_code_file"),
                resets=int(handoff["resets"]),
            )
            epoch = float(handoff["epoch"])
        board = VirtualBoard(
            board_spec(board_id),
            clock=clock,
            epoch_s=epoch,
            boot=boot,
            state_dir=self._state_dir,
            seed=args.seed,
            probe_type=probe if probe in BY_NAME else "K",
            ntp_enabled=not args.no_ntp,
        )
        if handoff is not None:
            self._restore_world(board, handoff)
        if args.trace_allocations:
            board.allocations = AllocationProbe()
            board.allocations.start()
            board.wdt.on_feed = board.allocations.on_feed
        return board

    def _restore_world(self, board: VirtualBoard, handoff: dict[str, Any]) -> None:
        net = handoff["net"]
        board.net.set_state(net["state"], net["delay_s"])
        board.net.ntp_enabled = bool(net["ntp"])
        board.furnace.restore(handoff["furnace"])
        chip = handoff["chip"]
        board.chip.restore(bytes.fromhex(chip["registers"]), list(chip["injected"]))
        board.scenario_next = int(handoff["scenario_next"])
        soft = handoff.get("soft")
        if soft:
            board.rtc.set(soft["rtc_s"] + board.clock.physical() - handoff["physical_s"])
            board.net.set_radio(enabled=soft["radio_enabled"], joined=soft["radio_joined"])

    def _handoff_for(
        self,
        reset_reason: str,
        run_reason: str,
        soft: bool,
        next_code_file: str | None,
        safe_mode_reason: str | None,
    ) -> dict[str, Any]:
        board = self.board
        return {
            "reset_reason": reset_reason,
            "run_reason": run_reason,
            "safe_mode_reason": safe_mode_reason,
            "traceback": self._last_traceback if soft else None,
            "next_code_file": next_code_file,
            "physical_s": board.clock.physical(),
            "real_mono": _real_time.monotonic(),
            "speed": board.clock.speed,
            "epoch": board.epoch_s,
            "soft": {
                "boot_physical_s": board.clock.boot_physical,
                "rtc_s": board.rtc.now(),
                "radio_enabled": board.net.radio_enabled,
                "radio_joined": board.net.radio_joined,
            }
            if soft
            else None,
            "net": {
                "state": board.net.state,
                "delay_s": board.net.delay_s,
                "ntp": board.net.ntp_enabled,
            },
            "furnace": board.furnace.state(),
            "chip": {"registers": board.chip.registers().hex(), "injected": board.chip.injected},
            "scenario_next": board.scenario_next,
            "resets": board.boot.resets + 1,
            "console": self._console.next_boot(soft) if self._console else None,
        }

    def reboot(
        self,
        reset_reason: str,
        *,
        run_reason: str = "STARTUP",
        soft: bool = False,
        next_code_file: str | None = None,
        safe_mode_reason: str | None = None,
    ) -> NoReturn:
        """End this boot: re-execute the process as the next one. Any thread may call it."""
        self._reboot_lock.acquire()
        handoff = self._handoff_for(
            reset_reason, run_reason, soft, next_code_file, safe_mode_reason
        )
        # A soft reload closes the program's sockets; a reset just stops talking on them.
        keep = [] if soft else self.board.net.real_fds()
        if self._console is not None:
            keep.append(self._console.fd)
        self._reexec(handoff, keep)

    def _reexec(self, handoff: dict[str, Any], keep: list[int]) -> NoReturn:
        os.chdir(self._host_cwd)
        handoffs.reexec(self._argv, self._host_env, handoff, keep)

    # --- boot -------------------------------------------------------------------------

    def boot(self) -> NoReturn:
        board = self.board
        modules, self._next_run = build_modules(board, self._settings, self.reboot)
        install_circuitpython(
            modules,
            settings=self._settings,
            drive=self._drive,
            state_dir=self._state_dir,
            machine=board.spec.machine,
            heap=board.heap,
        )
        self._wire()
        ssid = self._settings.get("CIRCUITPY_WIFI_SSID")
        if ssid and not (self._handoff or {}).get("soft"):
            # CircuitPython joins the settings.toml network before code.py runs.
            board.radio.auto_join(str(ssid))
        self._start_services()
        print(
            f"VIRTUAL boot board={board.spec.board_id} reset_reason={board.boot.reset_reason} "
            f"safe_mode={board.boot.safe_mode_reason} speed={board.clock.speed:g} "
            f"resets={board.boot.resets}",
            file=sys.stderr,
        )
        if isinstance(self._console, SerialConsole):
            self._console.session(self)
        self.run_program()
        while True:
            _real_time.sleep(3600)

    def _wire(self) -> None:
        """Learn the wiring from the drive's board module, then forget the import."""
        before = set(sys.modules)
        name = "boards." + self.board.spec.board_id
        try:
            module: types.ModuleType | None = importlib.import_module(name)
        except Exception as exc:
            print(f"VIRTUAL cannot import {name} for the wiring: {exc!r}", file=sys.stderr)
            module = None
        finally:
            for added in set(sys.modules) - before:
                del sys.modules[added]
        for missing in self.board.wire(module, self.flame_divider()):
            print(f"VIRTUAL not wired: {missing}", file=sys.stderr)

    def _commands(self) -> Commands:
        return Commands(self.board, lambda: self.reboot("RESET_PIN"))

    def flame_divider(self) -> float:
        """The settings' divider ratio, for wiring the flame signal (1 when unreadable)."""
        return _number(self._settings.get("FLAME_DIVIDER_RATIO"), 1.0)

    def _start_services(self) -> None:
        board, args = self.board, self._args
        commands = self._commands()
        if args.control:
            ControlServer(Path(args.control), commands).start()
        WatchdogMonitor(
            board.wdt,
            policy=args.watchdog,
            reset=lambda: self.reboot("WATCHDOG"),
            main_thread=threading.main_thread(),
        ).start()
        if args.scenario:

            def apply(command: dict[str, Any]) -> None:
                outcome = commands.handle(command)
                if not outcome.reply.get("ok"):
                    print(f"VIRTUAL scenario: {outcome.reply.get('error')}", file=sys.stderr)
                if outcome.after is not None:
                    outcome.after()

            def progress(index: int) -> None:
                board.scenario_next = index

            ScenarioRunner(
                load_scenario(Path(args.scenario)),
                board.clock,
                apply,
                start=board.scenario_next,
                progress=progress,
            ).start()
        threading.Thread(
            target=_exit_with_parent, args=(os.getppid(),), name="virtual-parent", daemon=True
        ).start()

    def run_program(self) -> None:
        ran, crash = run_program(self._drive, self.board.boot)
        if ran:
            self._program_ended(crash)

    def _program_ended(self, crash: str | None) -> None:
        """What the supervisor does when the program ends (``crash``: its traceback)."""
        self._last_traceback = crash
        if crash is None:
            # A program that ends normally disarms the watchdog; one that crashed does not.
            self.board.wdt.deinit()
        if self._next_run.reload_on_error if crash else self._next_run.reload_on_success:
            self.reboot(
                self.board.boot.reset_reason,
                run_reason="SUPERVISOR_RELOAD",
                soft=True,
                next_code_file=self._next_run.code_file,
            )
        print("\nCode done running.")


def _number(value: SettingValue | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _exit_with_parent(parent: int) -> None:
    """A board whose launcher died has no one to read its console: it powers off."""
    while True:
        _real_time.sleep(PARENT_POLL_S)
        if os.getppid() != parent:
            os._exit(0)
