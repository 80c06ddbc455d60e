"""
`sensor_node.persist`
================================================================================
What survives a reset, in ``microcontroller.nvm`` (flash on most boards: written once per
boot and once per firmware-initiated reset, never in the loop).

Layout (``SIZE`` bytes from offset 0)::

    0   3   magic b"SN1" (anything else: the block is blank or from other firmware)
    3   1   reserved
    4   4   boot count, little-endian
    8   1   length of the reset cause
    9   120 reset cause: why the firmware reset the board (ASCII)
    129 1   length of the safe-mode reason
    130 48  safe-mode reason recorded by safemode.py (ASCII)

The reset cause and the safe-mode reason are reported once, in the birth message of the
next boot, and then cleared.
"""

try:
    from typing import Any, Optional, Tuple
except ImportError:
    pass

MAGIC = b"SN1"
_BOOT = 4
_CAUSE = 8
_CAUSE_MAX = 120
_SAFE_MODE = 129
_SAFE_MODE_MAX = 48
SIZE = 178


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


def _load(nvm: "Any") -> bytearray:
    block = bytearray(nvm[0:SIZE])
    if bytes(block[0:3]) != MAGIC:
        block = bytearray(SIZE)
        block[0:3] = MAGIC
    return block


def begin_boot(nvm: "Any") -> "Tuple[int, Optional[str], Optional[str]]":
    """Count this boot; returns ``(boot_count, reset_cause, safe_mode_reason)`` and clears
    the last two so they are reported once. The first boot is 1."""
    block = _load(nvm)
    boot = int.from_bytes(bytes(block[_BOOT : _BOOT + 4]), "little") + 1
    if boot > 0x7FFFFFFF:
        boot = 1
    cause = _read_text(block, _CAUSE, _CAUSE_MAX)
    safe_mode = _read_text(block, _SAFE_MODE, _SAFE_MODE_MAX)
    block[_BOOT : _BOOT + 4] = boot.to_bytes(4, "little")
    _write_text(block, _CAUSE, _CAUSE_MAX, None)
    _write_text(block, _SAFE_MODE, _SAFE_MODE_MAX, None)
    nvm[0:SIZE] = block
    return boot, cause, safe_mode


def record_reset_cause(nvm: "Any", cause: str) -> None:
    """Keep why the firmware is about to reset the board, for the next birth message."""
    block = _load(nvm)
    _write_text(block, _CAUSE, _CAUSE_MAX, cause)
    nvm[0:SIZE] = block


def record_safe_mode(nvm: "Any", reason: str) -> None:
    """Keep the safe-mode reason (and the reset it causes) for the next birth message."""
    block = _load(nvm)
    _write_text(block, _SAFE_MODE, _SAFE_MODE_MAX, reason)
    _write_text(block, _CAUSE, _CAUSE_MAX, "safe mode " + reason)
    nvm[0:SIZE] = block
