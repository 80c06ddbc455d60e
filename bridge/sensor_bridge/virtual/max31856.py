"""A register-level MAX31856 thermocouple-to-digital converter.

What a driver sees (the firmware's ``sensor_node.max31856``), from the datasheet:

* Registers 00h-0Fh (CR0, CR1, MASK, CJHF, CJLF, LTHFTH/L, LTLFTH/L, CJTO, CJTH/L,
  LTCBH/M/L, SR) with their power-on values. A transaction runs from CS low to CS high:
  the first byte is the address (bit 7 set = write), then data bytes with the address
  auto-incrementing (wrapping after 0Fh). Writes to read-only registers are ignored;
  CJTH/CJTL are writable only with the cold-junction sensor disabled (CR0.CJ).
* One-shot conversions start when CS goes high after 1SHOT was written; 1SHOT reads 1
  until the result is in. They take the datasheet maximum: 155 ms (60 Hz filter) or
  185 ms (50 Hz), plus 33.33 ms / 40 ms per extra averaged sample. CMODE runs them back
  to back (100 ms / 120 ms).
* LTCB holds the linearised temperature, 19 bits two's complement at 0.0078125 C/LSB
  left-justified in 24 bits; CJTH/L the cold junction, 14 bits at 0.015625 C/LSB
  left-justified in 16 (plus the CJTO offset). Voltage modes (G8/G32) hold the code.
* SR fault bits, gated by MASK. Comparator mode (CR0.FAULT=0): bits follow the latest
  conversion, threshold faults with 2 C of hysteresis. Interrupt mode: bits latch until
  FAULTCLR is written (self-clearing). Open circuit is detected during conversions when
  OCFAULT is non-zero (without detection an open input reads full scale: TC_RANGE).
* OVUV (input beyond the rails) suspends conversions while the condition lasts and, in
  interrupt mode, until FAULTCLR is written after it ends.

Every fault can be injected (``set_fault``), plus ``no_conversion``: a chip whose 1SHOT
never clears. A wrongly configured thermocouple type reads wrong, not faulted, as on the
bench (see ``thermocouple``).
"""

import random
import threading
from collections.abc import Callable

from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.thermocouple import (
    BY_NAME,
    FULL_SCALE_V,
    TYPES,
    emf_volts,
    voltage_gain,
)

CR0, CR1, MASK, CJHF, CJLF = 0x00, 0x01, 0x02, 0x03, 0x04
LTHFTH, LTHFTL, LTLFTH, LTLFTL, CJTO, CJTH, CJTL = 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B
LTCBH, LTCBM, LTCBL, SR = 0x0C, 0x0D, 0x0E, 0x0F

CR0_CMODE, CR0_1SHOT, CR0_OCFAULT, CR0_CJ = 0x80, 0x40, 0x30, 0x08
CR0_FAULT, CR0_FAULTCLR, CR0_50HZ = 0x04, 0x02, 0x01

POWER_ON = bytes(
    [0x00, 0x03, 0xFF, 0x7F, 0xC0, 0x7F, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0x00]
)
WRITABLE = range(CR0, CJTL + 1)

FAULT_BITS = {
    "cj_range": 0x80,
    "tc_range": 0x40,
    "cj_high": 0x20,
    "cj_low": 0x10,
    "tc_high": 0x08,
    "tc_low": 0x04,
    "voltage": 0x02,
    "open_tc": 0x01,
}
"""SR bits by the contract's fault names (``sensor_protocol.wire.FAULT_BITS``)."""
OVUV = FAULT_BITS["voltage"]
INJECTABLE = (*FAULT_BITS, "no_conversion")
CONDITION_FAULTS = ("cj_range", "tc_range", "cj_high", "cj_low", "tc_high", "tc_low")
"""Injected as a forced condition, evaluated at each conversion like a real one."""

TC_LSB_C = 0.0078125
CJ_LSB_C = 0.015625
TC_CODE_MAX = (1 << 18) - 1
CJ_RANGE_C = (-55.0, 125.0)
HYSTERESIS_C = 2.0
TC_NOISE_C = 0.03
"""Input-referred noise (1.3 uV RMS at gain 8) over a K coefficient, per sample."""
CJ_NOISE_C = 0.02


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def conversion_time_s(cr0: int, cr1: int) -> float:
    """Datasheet maximum one-shot conversion time for these settings."""
    fifty = bool(cr0 & CR0_50HZ)
    samples = averaging(cr1)
    return (0.185 if fifty else 0.155) + (samples - 1) * (0.040 if fifty else 0.1 / 3)


def auto_period_s(cr0: int, cr1: int) -> float:
    fifty = bool(cr0 & CR0_50HZ)
    return (0.120 if fifty else 0.100) + (averaging(cr1) - 1) * (0.040 if fifty else 0.1 / 3)


def averaging(cr1: int) -> int:
    """Samples averaged per result: AVGSEL 0..4 -> 1..16, larger codes also 16."""
    return 1 << min((cr1 >> 4) & 0x07, 4)


class Max31856:
    """The chip. ``junctions(t)`` gives (hot junction C, cold junction C) at physical time t."""

    def __init__(
        self,
        clock: VirtualClock,
        junctions: Callable[[float], tuple[float, float]],
        *,
        probe_type: str = "K",
        rng: random.Random | None = None,
    ) -> None:
        if probe_type not in BY_NAME:
            raise ValueError(f"unknown thermocouple type {probe_type!r}")
        self._clock = clock
        self._junctions = junctions
        self._probe = TYPES[BY_NAME[probe_type]]
        self._rng = rng or random.Random(0)
        self._lock = threading.RLock()
        self._regs = bytearray(POWER_ON)
        self._injected: set[str] = set()
        self._selected = False
        self._address: int | None = None
        self._writing = False
        self._oneshot_requested = False
        self._faultclr_requested = False
        self._pending = False
        self._conv_start: float | None = None
        self._conv_time = 0.0
        self._auto_next: float | None = None
        self.conversions = 0

    # --- pins -------------------------------------------------------------------------

    @property
    def selected(self) -> bool:
        return self._selected

    def chip_select(self, level: bool) -> None:
        """CS line from the MCU: low selects, the rising edge ends the transaction."""
        with self._lock:
            if not level and not self._selected:
                self._selected = True
                self._address = None
            elif level and self._selected:
                self._selected = False
                self._end_transaction()

    @property
    def fault_pin_asserted(self) -> bool:
        """The open-drain FAULT output: low (asserted) while any unmasked fault bit is set."""
        with self._lock:
            self._update()
            return bool(self._regs[SR])

    def transfer(self, byte: int, *, mode_ok: bool) -> int:
        with self._lock:
            if not mode_ok:
                # Sampling on the wrong edge shifts every bit by one.
                byte = (byte << 1) & 0xFF
            if self._address is None:
                self._writing = bool(byte & 0x80)
                self._address = byte & 0x7F
                return 0xFF
            address = self._address
            self._address = 0 if address == SR else address + 1
            if self._writing:
                self._write(address, byte)
                return 0xFF
            self._update()
            value = self._regs[address] if address <= SR else 0x00
            return value if mode_ok else value >> 1

    # --- fault injection --------------------------------------------------------------

    def set_fault(self, name: str, active: bool) -> None:
        if name not in INJECTABLE:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(INJECTABLE)}")
        with self._lock:
            # Settle what happened up to now under the old conditions first.
            self._update()
            if active:
                self._injected.add(name)
            else:
                self._injected.discard(name)
            self._update()

    @property
    def injected(self) -> list[str]:
        with self._lock:
            return sorted(self._injected)

    # --- persistence across MCU resets (the chip keeps its power) -----------------------

    def registers(self) -> bytes:
        with self._lock:
            self._update()
            return bytes(self._regs)

    def restore(self, registers: bytes, injected: list[str]) -> None:
        with self._lock:
            self._regs[:] = registers
            # A conversion running across the MCU reset has finished by the time it boots.
            self._regs[CR0] &= ~CR0_1SHOT
            self._injected = {name for name in injected if name in INJECTABLE}
            if self._regs[CR0] & CR0_CMODE:
                self._auto_next = None

    def status(self) -> dict[str, object]:
        with self._lock:
            self._update()
            return {
                "cr0": self._regs[CR0],
                "cr1": self._regs[CR1],
                "mask": self._regs[MASK],
                "sr": self._regs[SR],
                "pending": self._pending,
                "conversions": self.conversions,
                "injected": sorted(self._injected),
            }

    # --- internals --------------------------------------------------------------------

    def _write(self, address: int, value: int) -> None:
        if address not in WRITABLE:
            return
        if address in (CJTH, CJTL) and not self._regs[CR0] & CR0_CJ:
            return
        if address == CR0:
            if value & CR0_FAULTCLR:
                self._faultclr_requested = True
            if value & CR0_1SHOT and not self._pending:
                self._oneshot_requested = True
            one_shot = self._regs[CR0] & CR0_1SHOT
            self._regs[CR0] = (value & ~(CR0_FAULTCLR | CR0_1SHOT)) | one_shot
            if not value & CR0_CMODE:
                self._auto_next = None
            return
        self._regs[address] = value & (0x7F if address == CR1 else 0xFF)

    def _end_transaction(self) -> None:
        now = self._clock.physical()
        self._update(now)
        if self._faultclr_requested:
            self._faultclr_requested = False
            if self._regs[CR0] & CR0_FAULT:
                self._regs[SR] = 0
        if self._oneshot_requested:
            self._oneshot_requested = False
            if not self._regs[CR0] & CR0_CMODE:
                self._pending = True
                self._regs[CR0] |= CR0_1SHOT
                self._conv_time = conversion_time_s(self._regs[CR0], self._regs[CR1])
                self._conv_start = None
        self._update(now)

    def _interrupt_mode(self) -> bool:
        return bool(self._regs[CR0] & CR0_FAULT)

    def _suspended(self) -> bool:
        if "no_conversion" in self._injected or "voltage" in self._injected:
            return True
        return self._interrupt_mode() and bool(self._regs[SR] & OVUV)

    def _update(self, now: float | None = None) -> None:
        """Bring the chip up to ``now``: finish conversions, follow the OVUV comparator.

        Conditions only change at calls to this method (register traffic, injections), so
        a conversion that was due before a change is finished under the old conditions.
        """
        if now is None:
            now = self._clock.physical()
        if self._pending and self._conv_start is not None:
            done_at = self._conv_start + self._conv_time
            if now >= done_at:
                self._complete(done_at)
                self._pending = False
                self._conv_start = None
                self._regs[CR0] &= ~CR0_1SHOT
        self._follow_ovuv()
        suspended = self._suspended()
        if self._pending:
            if suspended:
                self._conv_start = None
            elif self._conv_start is None:
                self._conv_start = now
        if self._regs[CR0] & CR0_CMODE:
            self._run_auto(now, suspended)

    def _run_auto(self, now: float, suspended: bool) -> None:
        period = auto_period_s(self._regs[CR0], self._regs[CR1])
        if suspended:
            self._auto_next = None
            return
        if self._auto_next is None:
            self._auto_next = now + period
            return
        if now >= self._auto_next:
            missed = int((now - self._auto_next) / period)
            latest = self._auto_next + missed * period
            self._complete(latest)
            self._auto_next = latest + period

    def _follow_ovuv(self) -> None:
        active = "voltage" in self._injected and not self._regs[MASK] & OVUV
        if self._interrupt_mode():
            if active:
                self._regs[SR] |= OVUV
        else:
            self._regs[SR] = (self._regs[SR] & ~OVUV) | (OVUV if active else 0)

    def _sample(self, done_at: float) -> tuple[float, float]:
        """Hot and cold junction averaged over the conversion's samples, with chip noise."""
        samples = averaging(self._regs[CR1])
        step = self._conv_time / samples if self._conv_time else 0.0
        hot = cold = 0.0
        for k in range(samples):
            h, c = self._junctions(done_at - k * step)
            hot += h
            cold += c
        noise = self._rng.gauss(0.0, TC_NOISE_C / samples**0.5)
        return hot / samples + noise, cold / samples

    def _complete(self, done_at: float) -> None:
        self.conversions += 1
        regs = self._regs
        hot, cold_true = self._sample(done_at)
        if regs[CR0] & CR0_CJ:
            cold = _signed((regs[CJTH] << 8) | regs[CJTL], 16) / 256.0
        else:
            offset = _signed(regs[CJTO], 8) * 0.0625
            measured = cold_true + offset + self._rng.gauss(0.0, CJ_NOISE_C)
            code = max(-(1 << 13), min((1 << 13) - 1, round(measured / CJ_LSB_C)))
            word = (code & 0x3FFF) << 2
            regs[CJTH], regs[CJTL] = word >> 8, word & 0xFF
            cold = code * CJ_LSB_C
        conditions, code, celsius = self._convert(hot, cold_true, cold)
        word = (code & 0x7FFFF) << 5
        regs[LTCBH], regs[LTCBM], regs[LTCBL] = word >> 16, (word >> 8) & 0xFF, word & 0xFF
        if celsius is not None:
            conditions |= self._threshold_faults(celsius, cold)
        if not CJ_RANGE_C[0] <= cold_true <= CJ_RANGE_C[1]:
            conditions |= FAULT_BITS["cj_range"]
        for name in CONDITION_FAULTS:
            if name in self._injected:
                conditions |= FAULT_BITS[name]
        conditions &= ~regs[MASK] & ~OVUV
        if self._interrupt_mode():
            regs[SR] |= conditions
        else:
            regs[SR] = (regs[SR] & OVUV) | conditions

    def _convert(self, hot: float, cold_true: float, cold: float) -> tuple[int, int, float | None]:
        """(fault conditions, LTCB code, reading in C or None in voltage mode)."""
        type_code = self._regs[CR1] & 0x0F
        gain = voltage_gain(type_code)
        if "open_tc" in self._injected:
            # The bias current drives an open input to the top of the range.
            detect = bool(self._regs[CR0] & CR0_OCFAULT)
            return FAULT_BITS["open_tc" if detect else "tc_range"], TC_CODE_MAX, None
        emf = emf_volts(self._probe, hot, cold_true)
        if gain is not None:
            full_scale = FULL_SCALE_V * 8 / gain
            code = round(emf / full_scale * (1 << 17))
            faults = FAULT_BITS["tc_range"] if abs(emf) > full_scale else 0
            return faults, max(-TC_CODE_MAX - 1, min(TC_CODE_MAX, code)), None
        configured = TYPES[type_code]
        celsius = cold + emf / (configured.uv_per_c * 1e-6)
        faults = 0
        if not configured.lo_c <= celsius <= configured.hi_c or abs(emf) > FULL_SCALE_V:
            faults |= FAULT_BITS["tc_range"]
        code = max(-TC_CODE_MAX - 1, min(TC_CODE_MAX, round(celsius / TC_LSB_C)))
        return faults, code, celsius

    def _threshold_faults(self, celsius: float, cold: float) -> int:
        regs = self._regs
        tc_hi = _signed((regs[LTHFTH] << 8) | regs[LTHFTL], 16) * 0.0625
        tc_lo = _signed((regs[LTLFTH] << 8) | regs[LTLFTL], 16) * 0.0625
        cj_hi = float(_signed(regs[CJHF], 8))
        cj_lo = float(_signed(regs[CJLF], 8))
        faults = 0
        for name, value, limit, above in (
            ("tc_high", celsius, tc_hi, True),
            ("tc_low", celsius, tc_lo, False),
            ("cj_high", cold, cj_hi, True),
            ("cj_low", cold, cj_lo, False),
        ):
            bit = FAULT_BITS[name]
            # Comparator mode releases a threshold fault only 2 C back inside the limit.
            held = not self._interrupt_mode() and regs[SR] & bit
            margin = HYSTERESIS_C if held else 0.0
            if (value > limit - margin) if above else (value < limit + margin):
                faults |= bit
        return faults
