"""The board's parts as the VM reaches them over the channel, by pin name.

The same parts the CPython engine wires to its fake modules (``VirtualBoard``): the SPI
bytes go to whatever sits on the clock pin (the register-level MAX31856), an ADC read
turns the furnace's flame signal into counts as the port does, an output pin drives the
wiring (chip select, LED, NeoPixel supply), nvm is the file the board keeps across resets.
What differs per port comes from its family row (``sensor_bridge.virtual.families``).
"""

import types
from typing import Any

from sensor_bridge.virtual.analog import FLOATING_NOISE_V, FLOATING_V, esp_counts, rp_counts
from sensor_bridge.virtual.families import PortFamily
from sensor_bridge.virtual.hardware import VirtualBoard
from sensor_bridge.virtual.pins import Pin
from sensor_bridge.virtual.spi import MAX_DEVICE_HZ, MISO_IDLE


class DeviceError(Exception):
    """An error the VM raises as ``kind(text)`` (e.g. ConnectionError from wifi.connect)."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind
        self.text = text


class Rig:
    def __init__(self, board: VirtualBoard, family: PortFamily) -> None:
        self.board = board
        self.family = family
        self._spi_ok: dict[str, bool] = {}

    def pin(self, name: str) -> Pin:
        return self.board.spec.pins[name]

    # --- wiring -----------------------------------------------------------------------

    def wire(self, sck: str | None, cs: str | None, flame: str | None, divider: float) -> list[str]:
        """Connect the chip and the flame signal as the drive's board module says."""
        pins = self.board.spec.pins
        module = types.SimpleNamespace(
            SPI_SCK=pins.get(sck or ""),
            THERMOCOUPLE_CS=pins.get(cs or ""),
            FLAME_ADC=pins.get(flame or ""),
        )
        return self.board.wire(module, divider)  # type: ignore[arg-type]

    def drive(self, name: str, level: bool) -> None:
        self.board.wiring.drive(self.pin(name), bool(level))

    def input_level(self, name: str) -> bool | None:
        return self.board.wiring.input_level(self.pin(name))

    # --- SPI --------------------------------------------------------------------------

    def spi_mode(self, clock: str, baudrate: int, phase: int) -> None:
        # The MAX31856 samples on the second clock edge (SPI modes 1 and 3).
        self._spi_ok[clock] = phase == 1 and baudrate <= MAX_DEVICE_HZ

    def spi(self, clock: str, data: list[int]) -> list[int]:
        """Clock ``data`` out; what the selected devices drive on MISO, byte for byte."""
        mode_ok = self._spi_ok.get(clock, False)
        devices = self.board.wiring.spi_devices.get(self.pin(clock), [])
        result = []
        for byte in data:
            value = MISO_IDLE
            for device in devices:
                if device.selected:
                    value &= device.transfer(byte & 0xFF, mode_ok=mode_ok)
            result.append(value)
        return result

    # --- ADC, light, CPU --------------------------------------------------------------

    def adc(self, name: str) -> int:
        board = self.board
        source = board.wiring.analog_sources.get(self.pin(name))
        if source is None:
            volts = FLOATING_V + board.rng.gauss(0.0, FLOATING_NOISE_V)
        else:
            volts = source()
        counts = esp_counts if self.family.name == "espressif" else rp_counts
        return counts(max(0.0, volts), board.rng)

    def neopixel(self, name: str, data: list[int]) -> None:
        self.board.light.neopixel_write(self.pin(name), bytes(data))

    def cpu_temperature(self) -> float:
        # The die runs some 12 C above the board's air (as sensor_bridge.virtual.mcu).
        return round(self.board.cold_junction_c() + 12.0 + self.board.rng.gauss(0.0, 0.5), 2)

    # --- nvm --------------------------------------------------------------------------

    def nvm_read(self, start: int, stop: int) -> list[int]:
        return list(self.board.nvm[start:stop])

    def nvm_write(self, start: int, data: list[int]) -> None:
        """One write (the host's nvm counts the flash it wears, per the port family)."""
        self.board.nvm[start : start + len(data)] = bytes(data)

    # --- Wi-Fi: the host's radio, which behaves as the port family's (wifi.Radio) ---------

    def wifi_connect(self, ssid: str, password: str, timeout: float | None) -> list[Any]:
        """``wifi.radio.connect``; the link and its delay once joined."""
        try:
            self.board.radio.connect(ssid, password, timeout=timeout)
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise DeviceError(type(error).__name__, str(error)) from None
        net = self.board.net
        return [net.link(), net.delay_s]

    def radio_enabled(self, enabled: bool) -> None:
        self.board.radio.enabled = enabled

    def ap_info(self) -> list[Any] | None:
        """``wifi.radio.ap_info`` as [ssid, bssid, rssi, channel, country], or None."""
        try:
            info = self.board.radio.ap_info
        except NotImplementedError as error:
            raise DeviceError("NotImplementedError", str(error)) from None
        if info is None:
            return None
        return [info.ssid, list(info.bssid), info.rssi, info.channel, info.country]
