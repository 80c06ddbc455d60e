"""What is soldered to which pin: chip selects, SPI devices, analog sources, LEDs.

The fake CircuitPython classes only know pins; this table connects a pin to the emulated
part behind it, as the wiring table of ``boards/README.md`` does on a real board.
"""

from collections.abc import Callable
from typing import Protocol

from sensor_bridge.virtual.pins import Pin


class SpiPeripheral(Protocol):
    """A device on an SPI bus: selected by its chip-select line, one byte in, one byte out."""

    @property
    def selected(self) -> bool: ...

    def transfer(self, byte: int, *, mode_ok: bool) -> int:
        """Clock one byte; ``mode_ok`` is False when the bus mode or clock is out of spec."""
        ...


class Wiring:
    def __init__(self) -> None:
        self._output_listeners: dict[Pin, list[Callable[[bool], None]]] = {}
        self._input_levels: dict[Pin, Callable[[], bool]] = {}
        self.spi_devices: dict[Pin, list[SpiPeripheral]] = {}
        """Devices by the bus's clock pin."""
        self.analog_sources: dict[Pin, Callable[[], float]] = {}
        """Volts at the pin, by ADC pin."""

    def on_output(self, pin: Pin, listener: Callable[[bool], None]) -> None:
        """Call ``listener(level)`` whenever the MCU drives ``pin`` (or lets it float high)."""
        self._output_listeners.setdefault(pin, []).append(listener)

    def drive(self, pin: Pin, level: bool) -> None:
        for listener in self._output_listeners.get(pin, ()):
            listener(level)

    def set_input(self, pin: Pin, level: Callable[[], bool]) -> None:
        self._input_levels[pin] = level

    def input_level(self, pin: Pin) -> bool | None:
        """The level something external drives on ``pin``, or None when nothing does."""
        source = self._input_levels.get(pin)
        return None if source is None else source()
