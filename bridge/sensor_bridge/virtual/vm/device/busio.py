"""``busio.SPI`` (shared-bindings/busio/SPI.c): the lock, the pins it claims, and bytes
exchanged with whatever the host has wired to its clock pin (the register-level MAX31856).

A transfer that reads asks the host (one round trip); a write alone is sent without an
answer, in order with everything else on the channel.
"""

from _vboard import call, claim, release, send

DEINITIALIZED = "Object has been deinitialized."


class SPI:
    def __init__(self, clock, MOSI=None, MISO=None, half_duplex=False):
        if half_duplex:
            raise NotImplementedError("Half duplex SPI is not implemented")
        pins = []
        try:
            for pin in (clock, MOSI, MISO):
                if pin is not None:
                    pins.append(claim(pin))
        except ValueError:
            for pin in pins:
                release(pin)
            raise
        self._pins = pins
        self._clock = clock.name
        self._mosi = MOSI
        self._miso = MISO
        self._locked = False
        self._baudrate = 250000

    def _check(self, locked=True):
        if self._pins is None:
            raise ValueError(DEINITIALIZED)
        if locked and not self._locked:
            raise RuntimeError("Function requires lock")

    def deinit(self):
        if self._pins is not None:
            for pin in self._pins:
                release(pin)
            self._pins = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()

    def try_lock(self):
        self._check(False)
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        self._check(False)
        self._locked = False

    def configure(self, *, baudrate=100000, polarity=0, phase=0, bits=8):
        self._check()
        if polarity not in (0, 1) or phase not in (0, 1):
            raise ValueError("polarity and phase must be 0 or 1")
        if bits != 8:
            raise ValueError("bits must be 8")
        self._baudrate = baudrate
        send("spi_mode", self._clock, baudrate, phase)

    @property
    def frequency(self):
        self._check(False)
        return self._baudrate

    def write(self, buffer, *, start=0, end=None):
        self._check()
        if self._mosi is None:
            raise ValueError("No mosi pin")
        send("spi_write", self._clock, list(buffer[start:end]))

    def readinto(self, buffer, *, start=0, end=None, write_value=0):
        self._check()
        if self._miso is None:
            raise ValueError("No miso pin")
        stop = len(buffer) if end is None else end
        data = call("spi", self._clock, [write_value] * (stop - start))
        for offset, byte in enumerate(data):
            buffer[start + offset] = byte

    def write_readinto(
        self, out_buffer, in_buffer, *, out_start=0, out_end=None, in_start=0, in_end=None
    ):
        self._check()
        if self._mosi is None or self._miso is None:
            raise ValueError("No mosi pin" if self._mosi is None else "No miso pin")
        out = list(out_buffer[out_start:out_end])
        stop = len(in_buffer) if in_end is None else in_end
        if len(out) != stop - in_start:
            raise ValueError("buffer slices must be of equal length")
        for offset, byte in enumerate(call("spi", self._clock, out)):
            in_buffer[in_start + offset] = byte
