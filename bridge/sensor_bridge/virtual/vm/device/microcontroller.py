"""``microcontroller``: pins, the CPU, non-volatile memory, the watchdog, reset.

The nvm bytes live on the host (``sensor_bridge.virtual.mcu.Nvm``, a file kept across
resets): a read asks for them, a write sends them, so no copy sits on this heap (on a board
nvm is flash, outside the heap). ``reset()`` asks the host to end this VM and boot the next
one with reset reason SOFTWARE; it never returns, as on a board.
"""

import watchdog as _watchdog

import _vboard
from _vboard import Members, call, config, send

ResetReason = Members(
    "microcontroller.ResetReason",
    "POWER_ON BROWNOUT SOFTWARE DEEP_SLEEP_ALARM RESET_PIN WATCHDOG UNKNOWN RESCUE_DEBUG",
)
RunMode = Members("microcontroller.RunMode", "NORMAL SAFE_MODE UF2 BOOTLOADER")


class Pin:
    """``microcontroller.Pin``: identity is what matters; prints as ``board.GP17``."""

    def __init__(self, name, adc):
        self.name = name
        self.adc = adc

    def __repr__(self):
        return "board." + self.name


class Processor:
    frequency = config["cpu_hz"]
    reset_reason = getattr(ResetReason, config["reset_reason"])
    uid = bytearray(b"\xe6\x618\x93_*l+")
    voltage = 3.3

    @property
    def temperature(self):
        return call("cpu_temperature")


class ByteArray:
    """``microcontroller.nvm`` (shared-bindings/nvm/ByteArray.c): fixed length, index or
    slice access, a slice assignment must keep the length."""

    def __len__(self):
        return config["nvm_bytes"]

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise NotImplementedError("only slices with step=1 (aka None) are supported")
            return bytearray(call("nvm_read", start, max(start, stop)))
        if not -len(self) <= index < len(self):
            raise IndexError("bytearray index out of range")
        return call("nvm_read", index % len(self), index % len(self) + 1)[0]

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise NotImplementedError("only slices with step=1 (aka None) are supported")
            data = bytes(value)
            if len(data) != max(0, stop - start):
                raise ValueError("Slice and value different lengths.")
            send("nvm_write", start, list(data))
            return
        if not -len(self) <= index < len(self):
            raise IndexError("bytearray index out of range")
        send("nvm_write", index % len(self), [value])


cpu = Processor()
cpus = cpu
nvm = ByteArray()
watchdog = _watchdog.WatchDogTimer()
_next_safe_mode = False


def reset():
    """Reset now: the host stops this VM and boots the next one (reset reason SOFTWARE)."""
    send("reset", _next_safe_mode)
    while True:
        _vboard.wait(3600)


def on_next_reset(run_mode):
    global _next_safe_mode
    if run_mode not in (RunMode.NORMAL, RunMode.SAFE_MODE):
        raise NotImplementedError("the virtual board has no bootloader")
    _next_safe_mode = run_mode is RunMode.SAFE_MODE


def delay_us(delay):
    _vboard.builtin_time.sleep_us(delay)


def disable_interrupts():
    """Interrupts are not emulated."""


def enable_interrupts():
    """Interrupts are not emulated."""
