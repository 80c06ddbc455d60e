"""Thermocouple types as the MAX31856 knows them (CR1 TC TYPE codes) and their physics.

Ranges are the datasheet's linearisation ranges (outside them: TC_RANGE fault). The EMF
is approximated by the mean Seebeck coefficient from 0 to 1000 C (400 C for type T),
enough to show what a wrong type setting does to a reading: a K probe read as J is off by
the ratio of the coefficients, not by a constant.
"""

from typing import NamedTuple


class TcType(NamedTuple):
    name: str
    lo_c: float
    hi_c: float
    uv_per_c: float


TYPES: dict[int, TcType] = {
    0b0000: TcType("B", 250.0, 1820.0, 4.834),
    0b0001: TcType("E", -200.0, 1000.0, 76.373),
    0b0010: TcType("J", -210.0, 1200.0, 57.953),
    0b0011: TcType("K", -200.0, 1372.0, 41.276),
    0b0100: TcType("N", -200.0, 1300.0, 36.256),
    0b0101: TcType("R", -50.0, 1768.0, 10.506),
    0b0110: TcType("S", -50.0, 1768.0, 9.587),
    0b0111: TcType("T", -200.0, 400.0, 52.180),
}

VOLTAGE_GAINS = {0b1000: 8, 0b1100: 32}
"""CR1 TC TYPE codes 10xx select voltage mode: gain 8 (0b1000) or 32 (0b11xx)."""

FULL_SCALE_V = 0.078125
"""Input-referred full scale at gain 8 (19.531 mV at gain 32)."""

BY_NAME = {tc.name: code for code, tc in TYPES.items()}


def emf_volts(tc: TcType, hot_c: float, cold_c: float) -> float:
    """Thermocouple output for a hot junction at ``hot_c`` against a cold one at ``cold_c``."""
    return (hot_c - cold_c) * tc.uv_per_c * 1e-6


def voltage_gain(type_code: int) -> int | None:
    """The voltage-mode gain for a CR1 type code, or None for a thermocouple type."""
    if type_code & 0b1000 == 0:
        return None
    return VOLTAGE_GAINS[0b1000 if type_code & 0b0100 == 0 else 0b1100]
