"""``microcontroller`` internals: reset reasons, the CPU, non-volatile memory."""

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
    """``microcontroller.nvm``: fixed-size bytes kept in a file across resets and power-off."""

    def __init__(self, path: Path, size: int) -> None:
        self._path = path
        self._lock = threading.Lock()
        data = path.read_bytes() if path.exists() else b""
        # Erased flash reads 0xFF.
        self._data = bytearray(data[:size].ljust(size, b"\xff"))

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
            self._flush()

    def _flush(self) -> None:
        temporary = self._path.with_suffix(".tmp")
        temporary.write_bytes(self._data)
        os.replace(temporary, self._path)
