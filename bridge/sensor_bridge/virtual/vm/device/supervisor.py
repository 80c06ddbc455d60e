"""``supervisor`` (shared-bindings/supervisor/): how this run came about, its ticks, reload.

``reload()`` asks the host to end this VM and run the program again (run reason
SUPERVISOR_RELOAD); ``set_next_code_file`` tells the host what the next run starts.
"""

import _vboard
from _vboard import Members, call, config, send

RunReason = Members("supervisor.RunReason", "STARTUP AUTO_RELOAD SUPERVISOR_RELOAD REPL_RELOAD")
SafeModeReason = Members(
    "supervisor.SafeModeReason",
    "NONE BROWNOUT FLASH_WRITE_FAIL GC_ALLOC_OUTSIDE_VM HARD_FAULT INTERRUPT_ERROR "
    "NLR_JUMP_FAIL NO_CIRCUITPY NO_HEAP PROGRAMMATIC SDK_FATAL_ERROR STACK_OVERFLOW "
    "USB_BOOT_DEVICE_NOT_INTERFACE_ZERO USB_TOO_MANY_ENDPOINTS "
    "USB_TOO_MANY_INTERFACE_NAMES USER WATCHDOG",
)


class Runtime:
    """``supervisor.runtime``."""

    safe_mode_reason = getattr(SafeModeReason, config["safe_mode_reason"])
    run_reason = getattr(RunReason, config["run_reason"])
    usb_connected = True
    serial_connected = True
    serial_bytes_available = 0
    _autoreload = config["autoreload"]

    @property
    def autoreload(self):
        return self._autoreload

    @autoreload.setter
    def autoreload(self, value):
        # The host prints "Auto-reload is off." after the next soft reboot (main.c), which
        # keeps the setting.
        self._autoreload = bool(value)
        send("autoreload", self._autoreload)


runtime = Runtime()


def ticks_ms():
    """Milliseconds since boot plus 2**29 - 65536, modulo 2**29
    (shared-bindings/supervisor/__init__.c: supervisor_ticks_ms)."""
    _vboard.uptime()
    return _vboard.ticks


def reload():
    send("reload")
    while True:
        _vboard.wait(3600)


def get_previous_traceback():
    return call("previous_traceback")


def set_next_code_file(
    filename,
    *,
    working_directory=None,
    reload_on_success=False,
    reload_on_error=False,
    sticky_on_success=False,
    sticky_on_error=False,
    sticky_on_reload=False,
):
    send("next_code_file", filename, reload_on_success, reload_on_error)
