"""``analogio.AnalogIn``: a 12-bit ADC scaled to 16 bits, with the ports' quirks.

RP2040/RP2350: 12 bits over 0..3.3 V, scaled ``raw << 4 | raw >> 8`` as CircuitPython
does, about 1.5 LSB of noise. ESP32-S2/S3 (12 dB attenuation, calibrated to millivolts):
nothing below ~75 mV, saturation above ~3.12 V, a few millivolts of noise. A pin with
nothing wired floats around mid-scale.
"""

import random
import types
from collections.abc import Callable
from typing import Any, ClassVar

from sensor_bridge.virtual.digital import DEINITIALIZED
from sensor_bridge.virtual.pins import Pin, PinClaims
from sensor_bridge.virtual.wiring import Wiring

REFERENCE_V = 3.3
RP_NOISE_LSB = 1.5
ESP_FLOOR_V, ESP_CEILING_V, ESP_NOISE_V = 0.075, 3.12, 0.006
FLOATING_V, FLOATING_NOISE_V = 1.2, 0.3


def rp_counts(volts: float, rng: random.Random) -> int:
    raw = round(volts / REFERENCE_V * 4095 + rng.gauss(0.0, RP_NOISE_LSB))
    raw = max(0, min(4095, raw))
    return (raw << 4) | (raw >> 8)


def esp_counts(volts: float, rng: random.Random) -> int:
    measured = volts + rng.gauss(0.0, ESP_NOISE_V)
    measured = 0.0 if measured < ESP_FLOOR_V else min(measured, ESP_CEILING_V)
    millivolts = round(measured * 1000)
    return min(65535, millivolts * 65535 // 3300)


class AnalogIn:
    _wiring: ClassVar[Wiring]
    _claims: ClassVar[PinClaims]
    _counts: ClassVar[Callable[[float, random.Random], int]]
    _rng: ClassVar[random.Random]

    def __init__(self, pin: Pin) -> None:
        if not isinstance(pin, Pin):
            raise TypeError(f"pin must be a Pin, not {type(pin).__name__}")
        if not pin.adc:
            raise ValueError(f"{pin.name} does not have ADC capabilities")
        self._pin: Pin | None = self._claims.claim(pin)

    def deinit(self) -> None:
        if self._pin is not None:
            self._claims.release(self._pin)
            self._pin = None

    def __enter__(self) -> "AnalogIn":
        return self

    def __exit__(self, *exc: object) -> None:
        self.deinit()

    @property
    def value(self) -> int:
        if self._pin is None:
            raise ValueError(DEINITIALIZED)
        source = self._wiring.analog_sources.get(self._pin)
        if source is None:
            volts = FLOATING_V + self._rng.gauss(0.0, FLOATING_NOISE_V)
        else:
            volts = source()
        return type(self)._counts(max(0.0, volts), self._rng)

    @property
    def reference_voltage(self) -> float:
        if self._pin is None:
            raise ValueError(DEINITIALIZED)
        return REFERENCE_V


def build_analogio(
    wiring: Wiring, claims: PinClaims, family: str, rng: random.Random
) -> types.ModuleType:
    module = types.ModuleType("analogio", "Analog hardware support (virtual board).")
    counts = esp_counts if family.startswith("esp32") else rp_counts
    bound: dict[str, Any] = {
        "_wiring": wiring,
        "_claims": claims,
        "_counts": staticmethod(counts),
        "_rng": rng,
        "__module__": "analogio",
    }
    module.__dict__["AnalogIn"] = type("AnalogIn", (AnalogIn,), bound)
    return module
