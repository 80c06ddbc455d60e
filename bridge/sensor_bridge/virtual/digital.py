"""``digitalio``: DigitalInOut with CircuitPython's pin claiming and error messages."""

import types
from typing import Any, ClassVar

from sensor_bridge.virtual.enums import EnumValue
from sensor_bridge.virtual.pins import Pin, PinClaims
from sensor_bridge.virtual.wiring import Wiring


class Direction:
    INPUT = EnumValue("digitalio.Direction", "INPUT")
    OUTPUT = EnumValue("digitalio.Direction", "OUTPUT")


class Pull:
    UP = EnumValue("digitalio.Pull", "UP")
    DOWN = EnumValue("digitalio.Pull", "DOWN")


class DriveMode:
    PUSH_PULL = EnumValue("digitalio.DriveMode", "PUSH_PULL")
    OPEN_DRAIN = EnumValue("digitalio.DriveMode", "OPEN_DRAIN")


DEINITIALIZED = "Object has been deinitialized."


class DigitalInOut:
    """One GPIO. Starts as an input without pull, like on the device."""

    _wiring: ClassVar[Wiring]
    _claims: ClassVar[PinClaims]

    def __init__(self, pin: Pin) -> None:
        self._pin: Pin | None = self._claims.claim(pin)
        self._output = False
        self._level = False
        self._pull: EnumValue | None = None
        self._drive_mode: EnumValue = DriveMode.PUSH_PULL

    @property
    def pin(self) -> Pin:
        if self._pin is None:
            raise ValueError(DEINITIALIZED)
        return self._pin

    def _check(self) -> None:
        if self._pin is None:
            raise ValueError(DEINITIALIZED)

    def deinit(self) -> None:
        if self._pin is None:
            return
        pin, self._pin = self._pin, None
        if self._output:
            # Released, the line floats; the breakouts' pull-ups take it high.
            self._wiring.drive(pin, True)
        self._claims.release(pin)

    def __enter__(self) -> "DigitalInOut":
        return self

    def __exit__(self, *exc: object) -> None:
        self.deinit()

    def switch_to_output(
        self, value: bool = False, drive_mode: EnumValue = DriveMode.PUSH_PULL
    ) -> None:
        pin = self.pin
        self._output = True
        self._drive_mode = drive_mode
        self._pull = None
        self._level = bool(value)
        self._wiring.drive(pin, self._level)

    def switch_to_input(self, pull: EnumValue | None = None) -> None:
        pin = self.pin
        was_output, self._output = self._output, False
        self._pull = pull
        if was_output:
            self._wiring.drive(pin, True)

    @property
    def direction(self) -> EnumValue:
        self._check()
        return Direction.OUTPUT if self._output else Direction.INPUT

    @direction.setter
    def direction(self, value: EnumValue) -> None:
        if value is Direction.OUTPUT:
            self.switch_to_output()
        elif value is Direction.INPUT:
            self.switch_to_input()
        else:
            raise ValueError("Invalid direction.")

    @property
    def value(self) -> bool:
        pin = self.pin
        if self._output:
            return self._level
        external = self._wiring.input_level(pin)
        if external is not None:
            return external
        return self._pull is Pull.UP

    @value.setter
    def value(self, value: bool) -> None:
        pin = self.pin
        if not self._output:
            raise AttributeError("Cannot set value when direction is input.")
        self._level = bool(value)
        self._wiring.drive(pin, self._level)

    @property
    def pull(self) -> EnumValue | None:
        self._check()
        if self._output:
            raise AttributeError("Pull not used when direction is output.")
        return self._pull

    @pull.setter
    def pull(self, pull: EnumValue | None) -> None:
        self._check()
        if self._output:
            raise AttributeError("Pull not used when direction is output.")
        self._pull = pull

    @property
    def drive_mode(self) -> EnumValue:
        self._check()
        if not self._output:
            raise AttributeError("Drive mode not used when direction is input.")
        return self._drive_mode

    @drive_mode.setter
    def drive_mode(self, mode: EnumValue) -> None:
        self._check()
        if not self._output:
            raise AttributeError("Drive mode not used when direction is input.")
        self._drive_mode = mode


def build_digitalio(wiring: Wiring, claims: PinClaims) -> types.ModuleType:
    module = types.ModuleType("digitalio", "Basic digital pin support (virtual board).")
    bound: dict[str, Any] = {"_wiring": wiring, "_claims": claims, "__module__": "digitalio"}
    module.__dict__.update(
        DigitalInOut=type("DigitalInOut", (DigitalInOut,), bound),
        Direction=Direction,
        Pull=Pull,
        DriveMode=DriveMode,
    )
    return module
