"""
`sensor_node.flame`
================================================================================
The flame-rod voltage: ``oversample`` ADC reads, their median (one noisy read, or a
Wi-Fi burst on the ADC, cannot move it), scaled by the board's volts per count, the
divider ratio and a calibration offset.

This is a monitor, not the flame safeguard: the burner's own flame relay trips in seconds
and nothing here replaces it.
"""

from sensor_protocol.wire import FLAME_V_MAX

try:
    from typing import Any, List, Optional
except ImportError:
    pass


def median_in_place(values: "List[int]") -> float:
    """The median of ``values`` (sorted in place: the caller's buffer is reused)."""
    values.sort()
    middle = len(values) // 2
    if len(values) % 2:
        return float(values[middle])
    return (values[middle - 1] + values[middle]) / 2


class FlameSensor:
    """Reads ``adc.value`` (0..65535 counts) and returns volts at the flame rod."""

    def __init__(
        self,
        adc: "Any",
        volts_per_count: float,
        divider_ratio: float,
        offset_v: float,
        oversample: int,
    ) -> None:
        self._adc = adc
        self._scale = volts_per_count * divider_ratio
        self._offset_v = offset_v
        self._samples = [0] * oversample

    def read_volts(self) -> "Optional[float]":
        """Volts at the rod; never below 0 (a negative offset cannot make a negative
        flame), None above the contract's range (the divider setting is wrong)."""
        samples = self._samples
        adc = self._adc
        for index in range(len(samples)):
            samples[index] = adc.value
        volts = median_in_place(samples) * self._scale + self._offset_v
        if volts < 0:
            return 0.0
        if volts > FLAME_V_MAX:
            return None
        return volts
