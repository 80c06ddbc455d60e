"""
`sensor_node.max31856`
================================================================================
The MAX31856 in the one mode the node runs it, written from the registers of Maxim's
MAX31856 datasheet ("Precision Thermocouple to Digital Converter with Linearization",
Register Memory Map and Descriptions, Serial Interface).

* SPI mode 1 (the chip takes modes 1 and 3; SCLK at most 5 MHz). A transaction runs from CS
  low to CS high: an address byte, bit 7 set for a write, then data bytes, the address
  incrementing after each.
* Configured by one write of three registers from 00h: CR0 with OCFAULT = 01 (open-circuit
  detection during each conversion), CJ = 0 (the internal cold-junction sensor), FAULT = 0
  (comparator mode: SR follows the last conversion) and the 50/60 Hz notch; CR1 (01h) with
  AVGSEL (1 to 16 samples as 0 to 4) and TC TYPE (B, E, J, K, N, R, S, T as 0 to 7); MASK
  (02h) 00h, so that no fault is masked (its power-on value FFh masks them all).
* A one-shot conversion: CR0 written with 1SHOT, converting once CS goes high; the chip
  clears 1SHOT when the result is in.
* The result, read in one transaction from 0Ah: CJTH, CJTL (cold junction: 14 bits, two's
  complement, 0.015625 C an LSB, left-justified in 16), LTCBH, LTCBM, LTCBL (linearised
  thermocouple temperature: 19 bits, two's complement, 0.0078125 C an LSB, left-justified
  in 24) and SR, the fault status, whose bits are the contract's fault bits
  (``sensor_protocol.wire.FAULT_BITS``).
* FAULTCLR, written with CR0, returns SR's bits to 0 where they latch (interrupt mode) and
  clears itself.

Not ``adafruit_max31856``: it keeps 5.0 kB of a Pico W's heap for every mode, threshold and
property of the chip, and allocates on each register access (docs/firmware-memory.md). Every
transaction here goes through one buffer made with the driver.
"""

from adafruit_bus_device.spi_device import SPIDevice

try:
    from micropython import const
except ImportError:  # CPython, under test
    const = int  # type: ignore[assignment]

try:
    from typing import Any, Tuple
except ImportError:
    pass

TC_TYPES = "BEJKNRST"
"""Thermocouple types by their CR1 TC TYPE code."""
AVERAGING = (1, 2, 4, 8, 16)
"""Samples averaged per conversion by their CR1 AVGSEL code."""
BAUDRATE = 500000
"""Well under the chip's 5 MHz: a few bytes a conversion need no speed."""

_WRITE = const(0x80)
_CR0 = const(0x00)
_CJTH = const(0x0A)
_CR0_ONE_SHOT = const(0x40)
_CR0_OPEN_CIRCUIT = const(0x10)
_CR0_FAULT_CLEAR = const(0x02)
_CR0_50HZ = const(0x01)
_RESULT_BYTES = const(6)


class Max31856:
    """One chip on ``spi`` behind ``chip_select``, configured for ``tc_type`` (a letter of
    ``TC_TYPES``), ``averaging`` (one of ``AVERAGING``) and ``mains_hz`` (50 or 60)."""

    def __init__(
        self, spi: "Any", chip_select: "Any", tc_type: str, averaging: int, mains_hz: int
    ) -> None:
        self._device = SPIDevice(spi, chip_select, baudrate=BAUDRATE, polarity=0, phase=1)
        self._buffer = bytearray(1 + _RESULT_BYTES)
        self._cr0 = _CR0_OPEN_CIRCUIT | (_CR0_50HZ if mains_hz == 50 else 0)
        buffer = self._buffer
        buffer[0] = _WRITE | _CR0
        buffer[1] = self._cr0
        buffer[2] = AVERAGING.index(averaging) << 4 | TC_TYPES.index(tc_type)
        buffer[3] = 0
        self._write(4)

    # circuitpython-stubs declare SPIDevice.__exit__ without the exception arguments that
    # ``with`` passes; CircuitPython's own takes exactly those
    # (shared-bindings/adafruit_bus_device/spi_device/SPIDevice.c): hence the ignores.
    def _write(self, count: int) -> None:
        with self._device as spi:  # type: ignore[call-arg]
            spi.write(self._buffer, end=count)

    def _read(self, address: int, count: int) -> bytearray:
        buffer = self._buffer
        buffer[0] = address
        with self._device as spi:  # type: ignore[call-arg]
            spi.write(buffer, end=1)
            spi.readinto(buffer, start=1, end=1 + count)
        return buffer

    def _write_cr0(self, bits: int) -> None:
        buffer = self._buffer
        buffer[0] = _WRITE | _CR0
        buffer[1] = self._cr0 | bits
        self._write(2)

    def start(self) -> None:
        """Start a one-shot conversion."""
        self._write_cr0(_CR0_ONE_SHOT)

    @property
    def converting(self) -> bool:
        """True until the chip has the result of the conversion it was started on."""
        return bool(self._read(_CR0, 1)[1] & _CR0_ONE_SHOT)

    def read(self) -> "Tuple[float, float, int]":
        """The last conversion: thermocouple and cold junction in degrees C, and SR."""
        buffer = self._read(_CJTH, _RESULT_BYTES)
        cold = buffer[1] << 8 | buffer[2]
        if cold & 0x8000:
            cold -= 0x10000
        hot = buffer[3] << 16 | buffer[4] << 8 | buffer[5]
        if hot & 0x800000:
            hot -= 0x1000000
        # The codes stay left-justified: 2**-7 C at bit 5 is 1/4096 C a count, 2**-6 C at
        # bit 2 is 1/256 C.
        return hot / 4096, cold / 256, buffer[6]

    def clear_faults(self) -> None:
        """Write FAULTCLR (with the configuration, not 1SHOT)."""
        self._write_cr0(_CR0_FAULT_CLEAR)
