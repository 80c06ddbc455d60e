"""
`sensor_node.persist`
================================================================================
What survives a reset, in ``microcontroller.nvm``, written as little as a loop allows: on
RP2040/RP2350 every write erases the 4 KB nvm sector (ports/raspberrypi/common-hal/nvm/
ByteArray.c), on ESP32 every write appends the whole 8 KB nvm to NVS, erased later page by
page (ports/espressif/common-hal/nvm/ByteArray.c).

**The bound.** A boot writes nvm at most once in its first hour (``LONG_BOOT_MS``), and at
most twice after it (to clear a crash streak, and to record why it resets); every loop of
resets is made of boots shorter than that. Such a boot's write is the first thing after its
start (a start other than this firmware's reset) or the last before its reset, and comes
after a hold that doubles with each consecutive early write (``hold_s``: none for the
first, then 30 s, 1, 2, 4, 8 min, then 10 min). So a loop of any kind (a crash at boot, a
crash a minute after it, a watchdog reset, a safe mode) writes at most 10 times in its first
hour and at most 6 times in any hour after: about 150 times a day, where a write at every
boot and another at every reset made about 2,100 a day of the Pico W's ap_info crash (a
crash 70 s after boot) and 4,100 of a crash at boot. A healthy node writes at its start, an
hour later (to clear the streak its start counted), and once per reset it decides: never
in its loop. The cause of a reset in the first hour after a start other than this
firmware's reset is not kept (the boot had its one early write): the console shows it.

**Boot numbers** stay unique for every boot that can publish: a reset reserves the next
number for the boot it starts (reset reason SOFTWARE: no write at its start); any other
start (power-on, watchdog, brown-out, reset pin, or a soft reload: code.py run again
without a reset) skips the reserved number, in case a boot took it and died without
writing, and writes its own at once. A soft reload is asked for (Ctrl-D, a file written
while auto-reload is on): it neither waits nor adds to the streak.

Layout (``SIZE`` bytes from offset 0)::

    0   3   magic b"SN1" (anything else: the block is blank or from other firmware)
    3   1   streak: consecutive boots that wrote nvm in their first hour (0 in a block
            of the firmware before it, whose boot count at 4 reads as the number here)
    4   4   the number a boot started by this firmware's reset takes, little-endian
    8   1   length of the reset cause
    9   120 reset cause: why the firmware reset the board (ASCII)
    129 1   length of the safe-mode reason
    130 48  safe-mode reason recorded by safemode.py (ASCII)

The reset cause and the safe-mode reason are reported in the birth message of the boot the
reset starts (reset reason SOFTWARE), and by no other.
"""

try:
    from typing import Any, Optional
except ImportError:
    pass

MAGIC = b"SN1"
_STREAK = 3
_NEXT = 4
_CAUSE = 8
_CAUSE_MAX = 120
_SAFE_MODE = 129
_SAFE_MODE_MAX = 48
SIZE = 178
LONG_BOOT_MS = 3600000
"""A boot that has run this long is no part of a fast loop."""
_HOLD_FIRST_S = 30
_HOLD_MAX_S = 600


def hold_s(streak: int) -> int:
    """The wait before a write that follows ``streak`` consecutive early writes."""
    return min(_HOLD_MAX_S, _HOLD_FIRST_S << (streak - 1)) if streak > 0 else 0


def _ascii(text: str, limit: int) -> bytes:
    chars = []
    for char in text[:limit]:
        chars.append(char if " " <= char <= "~" else "?")
    return "".join(chars).encode("ascii")


def _read_text(block: bytearray, offset: int, limit: int) -> "Optional[str]":
    length = min(block[offset], limit)
    if not length:
        return None
    return bytes(block[offset + 1 : offset + 1 + length]).decode("ascii")


def _write_text(block: bytearray, offset: int, limit: int, text: "Optional[str]") -> None:
    data = _ascii(text, limit) if text else b""
    block[offset] = len(data)
    block[offset + 1 : offset + 1 + limit] = data + bytes(limit - len(data))


class BootRecord:
    """This boot's number and what the previous boots left for it; writes the record back
    within the bound above. ``reset_reason`` and ``run_reason`` are the names of
    ``microcontroller.cpu.reset_reason`` and ``supervisor.runtime.run_reason``."""

    def __init__(
        self, nvm: "Any", reset_reason: "Optional[str]", run_reason: "Optional[str]"
    ) -> None:
        self._nvm = nvm
        block = bytearray(nvm[0:SIZE])
        if bytes(block[0:3]) != MAGIC:
            block = bytearray(SIZE)
        reserved = int.from_bytes(bytes(block[_NEXT : _NEXT + 4]), "little")
        self._reloaded = run_reason != "STARTUP"
        software = reset_reason == "SOFTWARE" and not self._reloaded
        self.number = max(1, reserved if software else reserved + 1)
        self.streak = block[_STREAK]
        self.cause = _read_text(block, _CAUSE, _CAUSE_MAX) if software else None
        self.safe_mode = _read_text(block, _SAFE_MODE, _SAFE_MODE_MAX) if software else None
        self.counted = software
        """The number is on record: the reset that started this boot reserved it."""
        self._early_write = False

    def start_hold_s(self) -> int:
        """The wait before ``count()``."""
        return 0 if self._reloaded else hold_s(self.streak)

    def count(self) -> None:
        """Put this boot's number on record (a start other than this firmware's reset),
        after waiting ``start_hold_s()``."""
        if not self._reloaded:
            self.streak = min(self.streak + 1, 255)
        self._write(None, None)
        self._early_write = True
        self.counted = True

    def settle(self, now_ms: int) -> None:
        """Once the boot has run an hour, clear a crash streak left on record."""
        if self.streak and now_ms >= LONG_BOOT_MS:
            self.streak = 0
            self._write(None, None)

    def reset(self, now_ms: int, cause: str, safe_mode: "Optional[str]" = None) -> bool:
        """Record why the board resets now, for the next birth message; after waiting
        ``hold_s(self.streak)`` when the boot is early. False when the boot has already had
        its early write (the cause is then only on the console)."""
        if now_ms >= LONG_BOOT_MS:
            self.streak = 0
        elif self._early_write:
            return False
        else:
            self.streak = min(self.streak + 1, 255)
            self._early_write = True
        self._write(cause, safe_mode)
        return True

    def _write(self, cause: "Optional[str]", safe_mode: "Optional[str]") -> None:
        block = bytearray(SIZE)
        block[0:3] = MAGIC
        block[_STREAK] = self.streak
        block[_NEXT : _NEXT + 4] = (self.number + 1).to_bytes(4, "little")
        _write_text(block, _CAUSE, _CAUSE_MAX, cause)
        _write_text(block, _SAFE_MODE, _SAFE_MODE_MAX, safe_mode)
        self._nvm[0:SIZE] = block
