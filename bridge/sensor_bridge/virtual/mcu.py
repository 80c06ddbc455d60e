"""``microcontroller`` internals: reset reasons, the CPU, non-volatile memory."""

import json
import os
import random
import threading
from pathlib import Path
from typing import Any

from sensor_bridge.virtual.enums import EnumValue, member

_RESET = "microcontroller.ResetReason"


class ResetReason:
    POWER_ON = EnumValue(_RESET, "POWER_ON")
    BROWNOUT = EnumValue(_RESET, "BROWNOUT")
    SOFTWARE = EnumValue(_RESET, "SOFTWARE")
    DEEP_SLEEP_ALARM = EnumValue(_RESET, "DEEP_SLEEP_ALARM")
    RESET_PIN = EnumValue(_RESET, "RESET_PIN")
    WATCHDOG = EnumValue(_RESET, "WATCHDOG")
    UNKNOWN = EnumValue(_RESET, "UNKNOWN")
    RESCUE_DEBUG = EnumValue(_RESET, "RESCUE_DEBUG")


class RunMode:
    NORMAL = EnumValue("microcontroller.RunMode", "NORMAL")
    SAFE_MODE = EnumValue("microcontroller.RunMode", "SAFE_MODE")
    UF2 = EnumValue("microcontroller.RunMode", "UF2")
    BOOTLOADER = EnumValue("microcontroller.RunMode", "BOOTLOADER")


def reset_reason(name: str) -> EnumValue:
    return member(ResetReason, name)


class Processor:
    """``microcontroller.cpu``. The die runs some 12 C above the cold junction (board air)."""

    def __init__(
        self,
        *,
        frequency: int,
        reset_reason: EnumValue,
        ambient_c: Any,
        rng: random.Random,
    ) -> None:
        self.frequency = frequency
        self.reset_reason = reset_reason
        self.uid = bytearray(bytes.fromhex("e66138935f2a6c2b"))
        self.voltage = 3.3
        self._ambient_c = ambient_c
        self._rng = rng

    @property
    def temperature(self) -> float:
        return round(float(self._ambient_c()) + 12.0 + self._rng.gauss(0.0, 0.5), 2)


class Nvm:
    """``microcontroller.nvm``: fixed-size bytes kept in a file across resets and power-off.

    It keeps the flash wear of the board's life too, in a file beside it: ``writes`` and
    ``erased_bytes``, ``erase_bytes`` (``families.PortFamily.nvm_erase_bytes``) per write. On
    raspberrypi a write over bytes that all still read 0xFF needs no erase (the first write
    of a blank nvm); the count ignores that one exception.
    """

    def __init__(self, path: Path, size: int, erase_bytes: int) -> None:
        self._path = path
        self._wear_path = path.with_suffix(".wear.json")
        self._erase_bytes = erase_bytes
        self._lock = threading.Lock()
        data = path.read_bytes() if path.exists() else b""
        # Erased flash reads 0xFF.
        self._data = bytearray(data[:size].ljust(size, b"\xff"))
        wear = json.loads(self._wear_path.read_text()) if self._wear_path.exists() else {}
        self.writes = int(wear.get("writes", 0))
        self.erased_bytes = int(wear.get("erased_bytes", 0))

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return True

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return bytearray(self._data[index])
        return self._data[index]

    def __setitem__(self, index: int | slice, value: Any) -> None:
        with self._lock:
            if isinstance(index, slice):
                if index.step not in (None, 1):
                    raise NotImplementedError("only slices with step=1 (aka None) are supported")
                data = bytes(value)
                start, stop, _ = index.indices(len(self._data))
                if len(data) != max(0, stop - start):
                    raise ValueError("Slice and value different lengths.")
                self._data[start:stop] = data
            else:
                self._data[index] = value
            self.writes += 1
            self.erased_bytes += self._erase_bytes
            self._flush()

    def wear(self) -> dict[str, int]:
        """Writes and flash erased since the nvm file was made (4 KB sectors for a count)."""
        return {
            "writes": self.writes,
            "erased_bytes": self.erased_bytes,
            "erased_sectors": self.erased_bytes // 4096,
        }

    def _flush(self) -> None:
        temporary = self._path.with_suffix(".tmp")
        temporary.write_bytes(self._data)
        os.replace(temporary, self._path)
        wear = {"writes": self.writes, "erased_bytes": self.erased_bytes}
        self._wear_path.write_text(json.dumps(wear))
