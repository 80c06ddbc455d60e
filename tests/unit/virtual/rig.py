"""Shared set-ups for the virtual board's unit tests: a hand-cranked clock, a chip on a bus."""

import contextlib
import random
import socket
import threading
import types
from collections.abc import Iterator
from typing import Any

from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.digital import build_digitalio
from sensor_bridge.virtual.max31856 import CR0, CR0_1SHOT, Max31856
from sensor_bridge.virtual.pins import PinClaims, board_spec
from sensor_bridge.virtual.spi import build_busio
from sensor_bridge.virtual.wiring import Wiring


class ManualTime:
    """A real-time source the test advances by hand: the virtual clock runs only then."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Junctions:
    """What the thermocouple sees: a fixed hot and cold junction the test sets."""

    def __init__(self, hot_c: float = 1100.0, cold_c: float = 25.0) -> None:
        self.hot_c = hot_c
        self.cold_c = cold_c

    def __call__(self, t: float) -> tuple[float, float]:
        return self.hot_c, self.cold_c


class ChipRig:
    """A MAX31856 on a Pico W's SPI pins, as the board modules wire it, and its registers
    read and written as the datasheet's serial interface has it (address byte, bit 7 set for
    a write, then the data, the address incrementing)."""

    def __init__(self, probe_type: str = "K") -> None:
        self.time = ManualTime()
        self.clock = VirtualClock(real_monotonic=self.time)
        self.junctions = Junctions()
        self.chip = Max31856(
            self.clock, self.junctions, probe_type=probe_type, rng=random.Random(4)
        )
        self.pins = board_spec("raspberry_pi_pico_w").pins
        wiring, claims = Wiring(), PinClaims()
        wiring.on_output(self.pins["GP17"], self.chip.chip_select)
        wiring.spi_devices[self.pins["GP18"]] = [self.chip]
        self.busio: types.ModuleType = build_busio(wiring, claims)
        self.digitalio: types.ModuleType = build_digitalio(wiring, claims)
        self.spi = self.busio.SPI(self.pins["GP18"], MOSI=self.pins["GP19"], MISO=self.pins["GP16"])
        self.cs = self.digitalio.DigitalInOut(self.pins["GP17"])
        self.cs.switch_to_output(value=True)

    def read(self, address: int, count: int = 1) -> bytes:
        """``count`` registers from ``address`` in one transaction, in SPI mode 1."""
        data = bytearray(count)
        with self._transaction() as spi:
            spi.write(bytes([address]))
            spi.readinto(data)
        return bytes(data)

    def write(self, address: int, *values: int) -> None:
        """``values`` into the registers from ``address`` on, in one transaction."""
        with self._transaction() as spi:
            spi.write(bytes([0x80 | address, *values]))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        assert self.spi.try_lock()
        try:
            self.spi.configure(baudrate=500_000, polarity=0, phase=1)
            self.cs.value = False
            yield self.spi
        finally:
            self.cs.value = True
            self.spi.unlock()

    def convert(self, seconds: float = 1.0) -> None:
        """One-shot conversion, then enough time for any setting to finish it."""
        self.write(CR0, self.read(CR0)[0] | CR0_1SHOT)
        self.time.advance(seconds)


class EchoServer:
    """A real TCP server on loopback that echoes and records how each connection ended."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.received = bytearray()
        self.ends: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except ConnectionResetError:
                    self._end("reset")
                    return
                if not data:
                    self._end("eof")
                    return
                with self._changed:
                    self.received += data
                conn.sendall(data)

    def _end(self, how: str) -> None:
        with self._changed:
            self.ends.append(how)
            self._changed.notify_all()

    def wait_end(self, timeout: float = 2.0) -> str | None:
        with self._changed:
            self._changed.wait_for(lambda: self.ends, timeout)
            return self.ends[0] if self.ends else None

    def close(self) -> None:
        self._listener.close()
