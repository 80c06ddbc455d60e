"""The assembled board: its parts, the rig around it, and their state across resets.

``BootInfo`` is what the board knows about how it started. ``VirtualBoard`` holds the
parts (clock, RTC, pins, chip, ADC wiring, radio, status light, nvm, watchdog) and the
world they sit in (furnace, network), wires the chip and the flame signal to the pins the
drive's board module names, and reports it all for the control socket. The radio, the nvm,
the watchdog and the sockets behave as the board's port family does (``families``).
"""

import random
import types
from pathlib import Path
from typing import Any, NamedTuple

from sensor_bridge.virtual.allocations import AllocationProbe
from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.families import CHIP_FAMILY
from sensor_bridge.virtual.furnace import FurnaceModel
from sensor_bridge.virtual.heap import HeapModel
from sensor_bridge.virtual.leds import StatusLight
from sensor_bridge.virtual.max31856 import Max31856
from sensor_bridge.virtual.mcu import Nvm
from sensor_bridge.virtual.network import NetEnvironment
from sensor_bridge.virtual.pins import BoardSpec, Pin, PinClaims
from sensor_bridge.virtual.timemod import RealTimeClock
from sensor_bridge.virtual.wdt import WatchDogTimer
from sensor_bridge.virtual.wifi import Radio
from sensor_bridge.virtual.wiring import Wiring


class BootInfo(NamedTuple):
    reset_reason: str
    """A ``microcontroller.ResetReason`` member name."""
    run_reason: str = "STARTUP"
    safe_mode_reason: str = "NONE"
    previous_traceback: str | None = None
    next_code_file: str | None = None
    resets: int = 0
    """Resets and reloads since power-on."""


class VirtualBoard:
    def __init__(
        self,
        spec: BoardSpec,
        *,
        clock: VirtualClock,
        epoch_s: float,
        boot: BootInfo,
        state_dir: Path,
        seed: int,
        probe_type: str = "K",
        ntp_enabled: bool = True,
    ) -> None:
        self.spec = spec
        self.family = CHIP_FAMILY[spec.family]
        self.clock = clock
        self.epoch_s = epoch_s
        """Wall time (Unix seconds) at physical time 0: the virtual wall clock's origin."""
        self.boot = boot
        self.seed = seed
        self.rng = random.Random(seed + 7)
        self.rtc = RealTimeClock(clock)
        self.claims = PinClaims()
        self.wiring = Wiring()
        self.furnace = FurnaceModel(seed)
        self.chip = Max31856(
            clock, self.furnace.junctions, probe_type=probe_type, rng=random.Random(seed + 3)
        )
        self.net = NetEnvironment(self.wall_clock, ntp_enabled=ntp_enabled)
        self.radio = Radio(self.net, clock, random.Random(seed + 5), self.family)
        self.light = StatusLight(
            self.wiring,
            neopixel=spec.pins.get("NEOPIXEL"),
            power=spec.pins.get("NEOPIXEL_POWER"),
            led=spec.pins.get("LED"),
        )
        self.nvm = Nvm(state_dir / "nvm.bin", spec.nvm_bytes, self.family.nvm_erase_bytes)
        self.wdt = WatchDogTimer(
            clock,
            max_timeout_s=spec.watchdog_max_s,
            can_raise=spec.watchdog_raise,
            family=self.family,
        )
        self.heap = HeapModel(spec.heap_bytes)
        self.allocations: AllocationProbe | None = None
        self.scenario_next = 0
        self.wired: dict[str, str] = {}

    def wall_clock(self) -> float:
        return self.epoch_s + self.clock.physical()

    def wire(self, board_module: types.ModuleType | None, flame_divider: float) -> list[str]:
        """Connect the chip and the flame signal to the pins ``board_module`` names.

        Returns what could not be wired, for a warning.
        """
        missing: list[str] = []
        cs = getattr(board_module, "THERMOCOUPLE_CS", None)
        sck = getattr(board_module, "SPI_SCK", None)
        if isinstance(cs, Pin) and isinstance(sck, Pin):
            self.wiring.on_output(cs, self.chip.chip_select)
            self.wiring.spi_devices.setdefault(sck, []).append(self.chip)
            self.wired["max31856"] = f"SCK={sck.name} CS={cs.name}"
        else:
            missing.append("MAX31856 (needs SPI_SCK and THERMOCOUPLE_CS)")
        flame = getattr(board_module, "FLAME_ADC", None)
        if isinstance(flame, Pin):
            divider = flame_divider if flame_divider > 0 else 1.0

            def flame_at_pin() -> float:
                return self.furnace.sample(self.clock.physical()).flame_v / divider

            self.wiring.analog_sources[flame] = flame_at_pin
            self.wired["flame"] = f"ADC={flame.name} divider={divider:g}"
        else:
            missing.append("flame signal (needs FLAME_ADC)")
        return missing

    def cold_junction_c(self) -> float:
        return self.furnace.sample(self.clock.physical()).cold_junction_c

    def status(self) -> dict[str, Any]:
        return {
            "board": self.spec.board_id,
            "family": self.family.name,
            "virtual_s": round(self.clock.physical(), 3),
            "uptime_s": round(self.clock.uptime(), 3),
            "speed": self.clock.speed,
            "wall_s": round(self.wall_clock(), 3),
            "rtc_s": round(self.rtc.now(), 3),
            "led": self.light.rgb(),
            "watchdog": self.wdt.status(),
            "net": self.net.state,
            "delay_s": self.net.delay_s,
            "ntp": self.net.ntp_enabled,
            "radio": {
                "enabled": self.net.radio_enabled,
                "joined": self.net.radio_joined,
                "wedged": self.net.radio_wedged,
            },
            "nvm": self.nvm.wear(),
            "sockets_open": self.net.open_count(),
            "boot_reset_reason": self.boot.reset_reason,
            "run_reason": self.boot.run_reason,
            "safe_mode_reason": self.boot.safe_mode_reason,
            "resets": self.boot.resets,
            "furnace": self.furnace.status(),
            "thermocouple": self.chip.status(),
            "wired": dict(self.wired),
            **({"allocations": self.allocations.summary()} if self.allocations else {}),
        }
