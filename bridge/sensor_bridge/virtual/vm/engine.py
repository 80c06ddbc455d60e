"""``python -m sensor_bridge.virtual --engine vm``: the host side of a board whose program
runs on CircuitPython's VM.

The host process keeps what ``Runner`` keeps for the CPython engine (the board and its
world, the handoff across resets, the control socket, the scenario, the watchdog's
monitor) and runs the drive in a child process::

    circuitpython-mcu -X heapsize=H device/vboard_main.py PORT TOKEN     (cwd: the drive)

whose stdout is the board's console. H comes from ``heapsize.calibrate`` (probes of the
same start, once per power-on). Every end of a boot but the program's own goes through the
main thread: a reset (``microcontroller.reset``, the watchdog, the control socket's reset)
stops the VM where it stands (SIGSTOP: its sockets stay open and silent, as the broker's
side of a connection does when a board resets under it; it is killed ``FROZEN_HOLD_S``
later), a soft reload kills it (CircuitPython closes the program's sockets), then the host
re-executes itself as the next boot. The VM gets SIGKILL if the host dies (PR_SET_PDEATHSIG).
"""

import ctypes
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple, NoReturn

from sensor_bridge import circuitpython_tools
from sensor_bridge.virtual.commands import Commands
from sensor_bridge.virtual.getenv import getenv, read_settings
from sensor_bridge.virtual.runner import Runner
from sensor_bridge.virtual.serial_console import PtyConsole
from sensor_bridge.virtual.vm.board_module import board_source
from sensor_bridge.virtual.vm.boot_config import boot_config, drive_release_line
from sensor_bridge.virtual.vm.channel import HEAP_WAIT_S, ChannelServer
from sensor_bridge.virtual.vm.commands import VmCommands
from sensor_bridge.virtual.vm.console import CTRL_D, VmConsole
from sensor_bridge.virtual.vm.heapsize import CalibrationError, calibrate
from sensor_bridge.virtual.vm.ntp_server import NtpServer
from sensor_bridge.virtual.vm.qstr_pools import QstrPools, parse_qstr_info
from sensor_bridge.virtual.vm.rig import DeviceError, Rig
from sensor_bridge.virtual.wdt import WatchDogMode, WatchDogTimer

DEVICE_DIR = Path(__file__).resolve().parent / "device"
MAIN = DEVICE_DIR / "vboard_main.py"
EXIT_ENDED, EXIT_CRASHED, EXIT_NOT_RUN, EXIT_REPL_RELOAD, EXIT_RAW_REPL_RELOAD = 0, 1, 3, 4, 5
"""vboard_main's exit statuses: the program ended, raised, or there was none to run; the
friendly or the raw REPL asked for a soft reboot."""
FROZEN_HOLD_S = 90.0
"""How long a reset VM keeps its sockets open: past a broker's keep-alive expiry."""
PROBE_TIMEOUT_S = 60.0
SESSION_DRAIN_S = 2.0


class NextBoot(NamedTuple):
    """How the next boot comes about (``Runner._handoff_for``'s arguments, in order)."""

    reset_reason: str
    run_reason: str
    soft: bool
    next_code_file: str | None
    safe_mode_reason: str | None


class VmRunner(Runner):
    def __init__(self, args: SimpleNamespace, argv: list[str], drive: Path) -> None:
        self._vm = circuitpython_tools.require(circuitpython_tools.MCU_VM)[0]
        super().__init__(args, argv, drive)
        board = self.board
        self._release = drive_release_line(drive)
        # The VM's watchdog module applies the port's limits; the host only keeps time.
        board.wdt = WatchDogTimer(board.clock, max_timeout_s=None, can_raise=False)
        self.rig = Rig(board, board.family)
        vm_state = (self._handoff or {}).get("vm") or {}
        self._heapsize: int | None = vm_state.get("heapsize")
        start_qstr = vm_state.get("qstr_at_start")
        self._qstr_at_start: QstrPools | None = QstrPools(*start_qstr) if start_qstr else None
        self._frozen: list[list[float]] = [list(entry) for entry in vm_state.get("frozen", [])]
        """(pid, since) of the VMs of earlier boots, stopped at their reset."""
        self._frozen_lock = threading.Lock()
        self._free_heap: int = args.free_heap or board.spec.free_heap_bytes
        self._channel = ChannelServer(self)
        self._ntp = NtpServer(board.net)
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._tokens: dict[str, bool] = {}
        self._probed: dict[str, int] = {}
        self._probe_done = threading.Condition()
        self._process: subprocess.Popen[bytes] | None = None
        self.start_heap: dict[str, int] = {}
        self._heap_answers: queue.Queue[dict[str, int]] = queue.Queue()
        self._gen_dir = self._state_dir / "vm"

    def _make_console(self, fd: int, handoff: dict[str, Any] | None) -> PtyConsole:
        return VmConsole(fd, handoff)

    @property
    def _vm_console(self) -> VmConsole | None:
        return self._console if isinstance(self._console, VmConsole) else None

    # --- boot -------------------------------------------------------------------------

    def boot(self) -> NoReturn:
        board = self.board
        self._gen_dir.mkdir(parents=True, exist_ok=True)
        (self._gen_dir / "board.py").write_text(board_source(board.spec), encoding="utf-8")
        threading.Thread(target=self._reap_frozen, name="vm-reaper", daemon=True).start()
        self._channel.start()
        self._ntp.start()
        ssid = self._settings.get("CIRCUITPY_WIFI_SSID")
        if ssid and not (self._handoff or {}).get("soft"):
            # CircuitPython joins the settings.toml network before code.py runs.
            board.radio.auto_join(str(ssid))
        self._start_services()
        if self._heapsize is None:
            try:
                self._heapsize = self._calibrate()
            except CalibrationError as error:
                print(f"VIRTUAL vm: {error}", file=sys.stderr)
                os._exit(1)
        print(
            f"VIRTUAL boot board={board.spec.board_id} reset_reason={board.boot.reset_reason} "
            f"safe_mode={board.boot.safe_mode_reason} speed=1 resets={board.boot.resets} "
            f"engine=vm heapsize={self._heapsize}",
            file=sys.stderr,
        )
        if self._vm_console is not None:
            self._vm_console.start()
        self._launch()
        while True:
            kind, detail = self._events.get()
            if kind == "reboot":
                self._restart(detail)
            elif kind == "exited" and detail[0] is self._process:
                self._ended(detail[1])
            elif kind == "key":
                self._key_at_prompt(detail)

    def _calibrate(self) -> int:
        def measure(heapsize: int) -> int:
            token = secrets.token_hex(8)
            self._tokens[token] = True
            process = self._spawn(heapsize, token, probe=True)
            try:
                stdout, stderr = process.communicate(timeout=PROBE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            self._qstr_at_start = parse_qstr_info(stdout.decode(errors="replace"))
            with self._probe_done:
                self._probe_done.wait_for(lambda: token in self._probed, timeout=5.0)
                free = self._probed.pop(token, None)
            if free is None:
                tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
                raise CalibrationError(
                    f"the VM did not reach code.py with -X heapsize={heapsize} "
                    f"(status {process.returncode}): {' | '.join(tail)}"
                )
            return free

        heapsize, _ = calibrate(self._free_heap, measure)
        return heapsize

    def _spawn(self, heapsize: int, token: str, *, probe: bool) -> "subprocess.Popen[bytes]":
        console = not probe and self._vm_console is not None
        return subprocess.Popen(
            [
                str(self._vm),
                "-X",
                f"heapsize={heapsize}",
                str(MAIN),
                str(self._channel.port),
                token,
            ],
            cwd=self._drive,
            # Nothing of the host's environment: the VM's os.getenv reads settings.toml only.
            env={"MICROPYPATH": "", "TZ": "UTC"},
            stdin=subprocess.PIPE if console else subprocess.DEVNULL,
            stdout=subprocess.PIPE if probe or console else None,
            stderr=subprocess.PIPE if probe else None,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
        )

    def _launch(self) -> None:
        assert self._heapsize is not None
        token = secrets.token_hex(8)
        self._tokens[token] = False
        process = self._spawn(self._heapsize, token, probe=False)
        self._process = process
        output = None if self._vm_console is None else self._vm_console.attach(process)

        def watch() -> None:
            status = process.wait()
            if output is not None:
                output.join()
            # What the VM said last (its traceback) is handled before its end is.
            session = self._channel.session
            if session is not None:
                session.done.wait(SESSION_DRAIN_S)
            self._events.put(("exited", (process, status)))

        threading.Thread(target=watch, name="vm-watch", daemon=True).start()

    # --- the channel's questions ------------------------------------------------------

    def hello(self, token: str) -> dict[str, Any] | None:
        probe = self._tokens.get(token)
        if probe is None:
            return None
        path = [str(self._gen_dir), str(DEVICE_DIR), "", str(self._drive), str(self._drive / "lib")]
        console = self._vm_console
        return {
            "probe": probe,
            "repl": None if probe or console is None else console.repl,
            "autoreload": True if console is None else console.autoreload(),
            "machine": self.board.spec.machine,
            "path": path,
            "ntp_port": self._ntp.port,
            **boot_config(self.board, self._drive),
        }

    def handlers(self, token: str) -> dict[str, Any]:
        if self._tokens.pop(token):

            def probe_ready(cost: int, free: int) -> None:
                with self._probe_done:
                    self._probed[token] = free
                    self._probe_done.notify_all()

            return {"wiring": _ignore, "ready": probe_ready, "autoreload": _ignore}
        console = self._vm_console
        rig, board = self.rig, self.board
        return {
            "wiring": self._wired,
            "ready": self._ready,
            "pin": rig.drive,
            "pin_level": rig.input_level,
            "spi_mode": rig.spi_mode,
            "spi": rig.spi,
            "spi_write": rig.spi,
            "adc": rig.adc,
            "neopixel": rig.neopixel,
            "cpu_temperature": rig.cpu_temperature,
            "nvm_read": rig.nvm_read,
            "nvm_write": rig.nvm_write,
            "wifi_connect": rig.wifi_connect,
            "radio_enabled": rig.radio_enabled,
            "ap_info": rig.ap_info,
            "watchdog": self._watchdog,
            "feed": board.wdt.feed,
            "getenv": self._getenv,
            "reset": self._reset,
            "reload": self._reload,
            "next_code_file": self._next_code_file,
            "traceback": self._traceback,
            "heap": lambda free, alloc: self._heap_answers.put(
                {"mem_free": free, "mem_alloc": alloc}
            ),
            "previous_traceback": lambda: board.boot.previous_traceback,
            "autoreload": self._autoreload,
            "executing": _ignore if console is None else console.executing,
        }

    def _ready(self, cost: int, free: int) -> None:
        self.start_heap = {"free_at_start": free, "vm_modules_bytes": cost}
        if self._vm_console is not None:
            self._vm_console.ready()
        print(
            f"VIRTUAL vm heap: gc.mem_free()={free} at the start of code.py (board figure "
            f"{self._free_heap}, -X heapsize={self._heapsize}); the emulated modules and "
            f"preloaded libraries hold {cost} bytes of it",
            file=sys.stderr,
        )

    def _wired(self, sck: str | None, cs: str | None, flame: str | None, error: str | None) -> None:
        if error is not None:
            print(
                f"VIRTUAL cannot import the board module for the wiring: {error}", file=sys.stderr
            )
        for missing in self.rig.wire(sck, cs, flame, self.flame_divider()):
            print(f"VIRTUAL not wired: {missing}", file=sys.stderr)

    def _watchdog(self, timeout: float, mode: str | None) -> None:
        wdt = self.board.wdt
        if mode is None:
            wdt.deinit()
            return
        try:
            wdt.timeout = timeout
            wdt.mode = WatchDogMode.RESET
        except ValueError as error:
            print(f"VIRTUAL watchdog not armed: {error}", file=sys.stderr)

    def _getenv(self, key: str) -> str | int | None:
        found = getenv(read_settings(self._drive / "settings.toml"), key, self._release)
        if found.error is not None:
            raise DeviceError("ValueError", found.error)
        return found.value

    def _reset(self, safe_mode: bool) -> None:
        self.reboot("SOFTWARE", safe_mode_reason="PROGRAMMATIC" if safe_mode else None)

    def _reload(self) -> None:
        self.reboot(
            self.board.boot.reset_reason,
            run_reason="SUPERVISOR_RELOAD",
            soft=True,
            next_code_file=self._next_run.code_file,
        )

    def _next_code_file(self, filename: str | None, on_success: bool, on_error: bool) -> None:
        self._next_run.code_file = filename
        self._next_run.reload_on_success = on_success
        self._next_run.reload_on_error = on_error

    def _autoreload(self, value: bool) -> None:
        if self._vm_console is not None:
            self._vm_console.set_autoreload(value)

    def _traceback(self, text: str) -> None:
        self._last_traceback = text

    def _commands(self) -> Commands:
        return VmCommands(self, lambda: self.reboot("RESET_PIN"))

    def vm_status(self) -> dict[str, Any]:
        """The VM's figures for the control socket's status."""
        return {
            "heapsize": self._heapsize,
            "free_heap_target": self._free_heap,
            **self.start_heap,
            "channel": self._channel.traffic.summary(),
        }

    def heap(self, qstr: bool = False) -> dict[str, Any] | None:
        """``gc.mem_free()`` and ``gc.mem_alloc()`` on the VM right after a collection, or
        None when the program does not answer (it polls the channel once per iteration).
        With ``qstr`` the VM prints its qstr pools on the console and the answer carries
        those at the start of code.py (``qstr_pools.board_free`` turns both into a board's
        figure)."""
        session = self._channel.session
        if session is None or self._process is None or self._process.poll() is not None:
            return None
        while not self._heap_answers.empty():
            self._heap_answers.get_nowait()
        session.push(["heap", qstr])
        try:
            answer: dict[str, Any] = dict(self._heap_answers.get(timeout=HEAP_WAIT_S))
        except queue.Empty:
            return None
        if qstr:
            answer["qstr_at_start"] = self._qstr_at_start
        return answer

    def hang(self) -> bool:
        """Stop the running program where it stands; False when none runs."""
        process = self._process
        if process is None or process.poll() is not None:
            return False
        os.kill(process.pid, signal.SIGSTOP)
        return True

    # --- the end of a boot ------------------------------------------------------------

    def _ended(self, status: int) -> None:
        console = self._vm_console
        if console is not None and status in (EXIT_REPL_RELOAD, EXIT_RAW_REPL_RELOAD):
            console.repl_ended(raw=status == EXIT_RAW_REPL_RELOAD)
            self.reboot(self.board.boot.reset_reason, run_reason="REPL_RELOAD", soft=True)
        if status != EXIT_NOT_RUN:
            if status not in (EXIT_ENDED, EXIT_CRASHED):
                print(f"VIRTUAL the VM ended with status {status}", file=sys.stderr)
            self._program_ended(None if status == EXIT_ENDED else self._last_traceback or "")
        if console is not None:
            if console.interrupted:
                # Only a program that ended in an error leaves the watchdog armed; Ctrl-C is
                # not one.
                self.board.wdt.deinit()
            console.program_ended(lambda key: self._events.put(("key", key)))

    def _key_at_prompt(self, key: int) -> NoReturn:
        """A key at ``Press any key``: Ctrl-D runs the program again, any other the REPL."""
        assert self._vm_console is not None
        self._vm_console.after_key(key)
        boot = self.board.boot
        run_reason = "REPL_RELOAD" if key == CTRL_D else boot.run_reason
        self.reboot(boot.reset_reason, run_reason=run_reason, soft=True)

    def reboot(
        self,
        reset_reason: str,
        *,
        run_reason: str = "STARTUP",
        soft: bool = False,
        next_code_file: str | None = None,
        safe_mode_reason: str | None = None,
    ) -> NoReturn:
        """End this boot from any thread: the main thread stops the VM and re-executes."""
        request = NextBoot(reset_reason, run_reason, soft, next_code_file, safe_mode_reason)
        if threading.current_thread() is threading.main_thread():
            self._restart(request)
        self._events.put(("reboot", request))
        while True:
            time.sleep(3600)

    def _restart(self, request: "NextBoot") -> NoReturn:
        process = self._process
        if process is not None and process.poll() is None:
            if request.soft:
                process.kill()
                process.wait()
            else:
                os.kill(process.pid, signal.SIGSTOP)
                with self._frozen_lock:
                    self._frozen.append([process.pid, self.board.clock.physical()])
        handoff = self._handoff_for(*request)
        with self._frozen_lock:
            handoff["vm"] = {
                "heapsize": self._heapsize,
                "qstr_at_start": self._qstr_at_start,
                "frozen": list(self._frozen),
            }
        self._reexec(handoff, [] if self._console is None else [self._console.fd])

    def _reap_frozen(self) -> None:
        """Kill the VMs earlier boots left stopped, once their hold is over."""
        with self._frozen_lock:
            inherited = sorted(self._frozen, key=lambda entry: entry[1])
        for entry in inherited:
            pid, since = int(entry[0]), entry[1]
            self.board.clock.sleep_until(since + FROZEN_HOLD_S)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            with self._frozen_lock:
                self._frozen.remove(entry)


def _ignore(*args: object) -> None:
    """A probe's messages that only a real boot acts on."""


def _die_with_parent() -> None:
    """In the VM's process before it starts: SIGKILL when the host process dies."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
