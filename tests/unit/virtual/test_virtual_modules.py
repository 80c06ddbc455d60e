"""The fake CircuitPython modules as the drive sees them, built for one board."""

import random
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest

from sensor_bridge.virtual.analog import esp_counts, rp_counts
from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.hardware import BootInfo, VirtualBoard
from sensor_bridge.virtual.mcu import Nvm
from sensor_bridge.virtual.modules import build_modules
from sensor_bridge.virtual.pins import board_spec
from sensor_bridge.virtual.settings import SettingsFile
from tests.unit.virtual.rig import ManualTime


def no_reboot(reset_reason: str, **kwargs: Any) -> NoReturn:
    raise AssertionError(f"unexpected reboot {reset_reason} {kwargs}")


def make_modules(tmp_path: Path, board_id: str = "raspberry_pi_pico_w") -> Any:
    real = ManualTime()
    board = VirtualBoard(
        board_spec(board_id),
        clock=VirtualClock(real_monotonic=real),
        epoch_s=1_767_225_600.0,
        boot=BootInfo("POWER_ON"),
        state_dir=tmp_path,
        seed=1,
    )
    settings = SettingsFile(tmp_path / "settings.toml", {"TC_TYPE": "K", "SAMPLE_PERIOD_S": 5})
    modules, _ = build_modules(board, settings, no_reboot)
    return board, real, type("Modules", (), modules)


def test_board_pins_aliases_and_missing_names(tmp_path: Path) -> None:
    _, _, m = make_modules(tmp_path)
    assert m.board.board_id == "raspberry_pi_pico_w"
    assert m.board.GP26 is m.board.A0 is m.board.GP26_A0
    assert repr(m.board.GP17) == "board.GP17"
    with pytest.raises(AttributeError):
        _ = m.board.NEOPIXEL
    _, _, feather = make_modules(tmp_path / "f", "adafruit_feather_esp32s3_4mbflash_2mbpsram")
    assert feather.board.LED is feather.board.D13
    assert feather.board.SPI() is feather.board.SPI()


def test_analog_in_reads_the_wired_signal_with_a_few_lsb_of_noise(tmp_path: Path) -> None:
    board, _, m = make_modules(tmp_path)
    board.wiring.analog_sources[m.board.A1] = lambda: 1.65
    adc = m.analogio.AnalogIn(m.board.A1)
    values = [adc.value for _ in range(200)]
    assert all(v & 0xF == v >> 12 for v in values), "12 bits scaled as raw << 4 | raw >> 8"
    assert sum(values) / len(values) == pytest.approx(32768, abs=64)
    assert 16 < max(values) - min(values) < 16 * 16, "a few 12-bit LSB of noise"
    assert adc.reference_voltage == 3.3
    with pytest.raises(ValueError, match="ADC"):
        m.analogio.AnalogIn(m.board.GP2)
    with pytest.raises(ValueError, match="in use"):
        m.analogio.AnalogIn(m.board.A1)
    adc.deinit()
    with pytest.raises(ValueError, match="deinitialized"):
        _ = adc.value


def test_adc_transfer_functions() -> None:
    rng = random.Random(1)
    assert rp_counts(0.0, rng) < 64 and rp_counts(5.0, rng) == 65535
    assert esp_counts(0.05, rng) == 0, "ESP32 reads nothing below ~75 mV"
    assert esp_counts(3.3, rng) == pytest.approx(3120 * 65535 // 3300, abs=300)


def test_digitalio_rules(tmp_path: Path) -> None:
    _, _, m = make_modules(tmp_path)
    pin = m.digitalio.DigitalInOut(m.board.GP5)
    assert pin.direction is m.digitalio.Direction.INPUT
    assert pin.value is False
    pin.pull = m.digitalio.Pull.UP
    assert pin.value is True
    with pytest.raises(AttributeError, match="direction is input"):
        pin.value = True
    pin.switch_to_output(value=True)
    assert pin.value is True and str(pin.direction) == "digitalio.Direction.OUTPUT"
    pin.deinit()
    m.digitalio.DigitalInOut(m.board.GP5).deinit()


def test_microcontroller_supervisor_rtc(tmp_path: Path) -> None:
    _, real, m = make_modules(tmp_path)
    mc, sup = m.microcontroller, m.supervisor
    assert str(mc.cpu.reset_reason) == "microcontroller.ResetReason.POWER_ON"
    assert mc.cpu.reset_reason is mc.ResetReason.POWER_ON
    assert 25.0 < mc.cpu.temperature < 50.0
    assert str(sup.runtime.safe_mode_reason) == "supervisor.SafeModeReason.NONE"
    assert str(sup.runtime.run_reason) == "supervisor.RunReason.STARTUP"
    assert sup.get_previous_traceback() is None
    assert sup.get_setting("SAMPLE_PERIOD_S") == 5
    sup.runtime.autoreload = False
    assert sup.ticks_ms() == (1 << 29) - 65_000
    clock = m.rtc.RTC()
    assert clock is m.rtc.RTC()
    clock.datetime = time.struct_time((2026, 1, 1, 0, 0, 0, 3, 1, -1))
    real.advance(5)
    assert m.time.time() == 1_767_225_605
    assert m.micropython.const(7) == 7


def test_nvm_is_fixed_size_and_persistent(tmp_path: Path) -> None:
    nvm = Nvm(tmp_path / "nvm.bin", 4096, 4096)
    assert len(nvm) == 4096 and nvm[0] == 0xFF, "erased flash"
    nvm[0:4] = b"\x01\x02\x03\x04"
    nvm[10] = 7
    with pytest.raises(ValueError, match="different lengths"):
        nvm[0:2] = b"\x00"
    again = Nvm(tmp_path / "nvm.bin", 4096, 4096)
    assert again[0:4] == bytearray(b"\x01\x02\x03\x04") and again[10] == 7


def test_socketpool_surface(tmp_path: Path) -> None:
    _, _, m = make_modules(tmp_path)
    pool = m.socketpool.SocketPool(m.wifi.radio)
    assert (pool.AF_INET, pool.SOCK_STREAM, pool.SOCK_DGRAM, pool.IPPROTO_TCP) == (2, 1, 2, 6)
    assert issubclass(pool.gaierror, OSError)
    assert type(m.wifi.radio).__name__ == "Radio", "adafruit_connection_manager keys on it"
    with pytest.raises(TypeError):
        m.socketpool.SocketPool(object())
