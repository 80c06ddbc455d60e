"""What CircuitPython's supervisor does around code.py (main.c), on the VM.

Run as ``circuitpython-mcu -X heapsize=N vboard_main.py PORT TOKEN`` in the drive, by
``sensor_bridge.virtual.vm.engine``: open the channel to the host; import the emulated
built-in modules (a board has them in C, costing no heap after code.py starts: importing
them here puts their cost before that point, where the heap size absorbs it) and the
libraries that are built into a board's firmware but that the bundle also carries
(``config["preload"]``: a built-in shadows their /lib copy on a board); tell the host how
the drive's board module wires the chip and the flame signal; then print
``code.py output:`` and run the program as ``__main__``, with sys.path as a board's.

With a serial console the host may ask for the REPL instead (``config["repl"]``: "friendly"
or "raw"), which runs here (``_vrepl``), on the VM and its heap, keys from stdin; a Ctrl-C is
the host's SIGINT, which the VM raises as KeyboardInterrupt (ports/unix/unix_mphal.c).

The host reads the exit status: 0 the program ended, 1 it raised (the traceback, as the
board prints it, went to the console and to the host), 3 there was nothing to run, 4 and 5
the friendly or the raw REPL asked for a soft reboot. Everything else (a reset, a reload,
the watchdog) ends this VM from the host.
"""

import gc
import sys

gc.collect()
_free_before = gc.mem_free()

import _vboard  # noqa: E402

_vboard.open_channel(int(sys.argv[1]), sys.argv[2])
_config = _vboard.config
del sys.argv[:]
sys.path.clear()
sys.path.extend(_config["path"])

import analogio  # noqa: E402, F401
import board  # noqa: E402
import busio  # noqa: E402, F401
import digitalio  # noqa: E402, F401
import ipaddress  # noqa: E402, F401
import microcontroller  # noqa: E402, F401
import neopixel_write  # noqa: E402, F401
import os  # noqa: E402, F401
import rtc  # noqa: E402, F401
import socketpool  # noqa: E402, F401
import supervisor  # noqa: E402, F401
import time  # noqa: E402, F401
import watchdog  # noqa: E402, F401
import wifi  # noqa: E402, F401

for _name in _config["preload"]:
    try:
        __import__(_name)
    except ImportError:
        pass


def _wiring():
    name = "boards." + board.board_id
    try:
        __import__(name)
    except ImportError as exc:
        _vboard.send("wiring", None, None, None, repr(exc))
        return
    module = sys.modules[name]
    pins = []
    for attribute in ("SPI_SCK", "THERMOCOUPLE_CS", "FLAME_ADC"):
        pin = getattr(module, attribute, None)
        pins.append(pin.name if type(pin).__name__ == "Pin" else None)
    _vboard.send("wiring", pins[0], pins[1], pins[2], None)
    # code.py imports it again, as on a board where nothing imported it before.
    del sys.modules[name]
    if "boards" in sys.modules:
        del sys.modules["boards"]


_wiring()
del _wiring, _name
gc.collect()
_vboard.send("ready", _free_before - gc.mem_free(), gc.mem_free())
if _config["probe"]:
    # The qstr pools code.py would start with, for the engine (a probe's stdout is the
    # engine's, not the console), after the heap figure so as not to move it.
    import micropython

    micropython.qstr_info()


def _shown_traceback(exc):
    """The traceback as a board prints it: the frames of this file and of the emulated
    modules beside it are not the program's (a board's modules are C, with no frames)."""
    import traceback

    here = '"' + __file__.rsplit("/", 1)[0] + "/"
    lines = "".join(traceback.format_exception(exc)).split("\n")
    return "\n".join(line for line in lines if here not in line)


def _repl(raw):
    import _vrepl

    keys = sys.stdin.buffer
    namespace = {"__name__": "__main__"}

    def read_key():
        try:
            key = keys.read(1)
        except KeyboardInterrupt:
            return _vrepl.CTRL_C
        if not key:
            sys.exit(0)  # the host is gone
        return key[0]

    def execute(source, mode):
        # While the host knows a statement runs, its Ctrl-C is SIGINT (else a key).
        _vboard.send("executing", True)
        try:
            exec(compile(source, _vrepl.SOURCE_NAME, mode), namespace)
        except SystemExit:
            pass
        except BaseException as exc:  # the REPL shows whatever ended the statement
            return _shown_traceback(exc)
        finally:
            _vboard.send("executing", False)
        return ""

    words = sys.version.split("; ")[-1].split(" ")
    # sys.version: "3.4.0; CircuitPython 10.1.0-dirty on 2026-12-04" (a build's tree state
    # follows the release number; a board's banner shows the release alone).
    words[1] = words[1].split("-")[0]
    banner = "Adafruit " + " ".join(words) + "; " + _config["machine"]
    repl = _vrepl.Repl(read_key, sys.stdout.buffer.write, execute, banner)
    return 5 if repl.run(raw) else 4


def _main(program):
    if program is None:
        if _config["safe_mode"]:
            print("Running in safe mode! Not running saved code.")
        return 3
    print(program + " output:")
    try:
        with open(program) as source:
            code = compile(source.read(), program, "exec")
        exec(code, {"__name__": "__main__", "__file__": program})
    except SystemExit:
        pass
    except BaseException as exc:  # the supervisor reports whatever ended the program
        shown = _shown_traceback(exc)
        print(shown, end="")
        _vboard.send("traceback", shown)
        return 1
    return 0


if _config["repl"]:
    sys.exit(_repl(_config["repl"] == "raw"))
if not _config["probe"]:
    sys.exit(_main(_config["program"]))
