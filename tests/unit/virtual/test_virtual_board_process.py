"""Whole boots of tiny drives through VirtualBoardProcess: the runner, resets, watchdog, control."""

import importlib.util
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from sensor_bridge.virtual.commands import KILLED_EXIT
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_bridge.virtual.wdt import EXIT_WATCHDOG_FAILED
from tests.unit.virtual.rig import EchoServer

BOARD_MODULE = """\
import board
SPI_SCK = board.GP18
SPI_MOSI = board.GP19
SPI_MISO = board.GP16
THERMOCOUPLE_CS = board.GP17
FLAME_ADC = board.GP26
STATUS_LED = board.LED
"""


FEATHER_MODULE = """\
import board
SPI_SCK = board.SCK
SPI_MOSI = board.MOSI
SPI_MISO = board.MISO
THERMOCOUPLE_CS = board.D5
FLAME_ADC = board.A5
STATUS_NEOPIXEL = board.NEOPIXEL
"""


def make_drive(
    root: Path,
    code: str,
    *,
    settings: str = "",
    board: tuple[str, str] = ("raspberry_pi_pico_w", BOARD_MODULE),
    libraries: tuple[str, ...] = (),
    files: dict[str, str] | None = None,
) -> Path:
    drive = root / "CIRCUITPY"
    (drive / "lib" / "boards").mkdir(parents=True)
    (drive / "lib" / "boards" / "__init__.py").write_text("")
    (drive / "lib" / "boards" / f"{board[0]}.py").write_text(board[1])
    for library in libraries:
        spec = importlib.util.find_spec(library)
        assert spec is not None and spec.origin is not None
        shutil.copy(spec.origin, drive / "lib")
    (drive / "code.py").write_text(textwrap.dedent(code))
    (drive / "settings.toml").write_text(textwrap.dedent(settings))
    for name, text in (files or {}).items():
        (drive / name).write_text(textwrap.dedent(text))
    return drive


def test_boot_runs_code_py_on_the_fake_modules(tmp_path: Path) -> None:
    drive = make_drive(
        tmp_path,
        """
        import os, sys, time, board, digitalio, microcontroller, wifi
        led = digitalio.DigitalInOut(board.LED)
        led.switch_to_output(True)
        print("hello", board.board_id, os.getenv("STUDIO_ID"), os.getenv("SAMPLE_PERIOD_S"),
              os.getenv("PATH"), microcontroller.cpu.reset_reason, sys.implementation.name,
              wifi.radio.connected)
        import gc
        print("heap", gc.mem_free(), gc.mem_alloc(), time.time())
        while True:
            time.sleep(0.05)
        """,
        settings="""
        CIRCUITPY_WIFI_SSID = "studio"
        CIRCUITPY_WIFI_PASSWORD = "furnace-pass"
        STUDIO_ID = "kiln"
        SAMPLE_PERIOD_S = 5
        """,
    )
    with VirtualBoardProcess(drive, speed=5, epoch=1_767_225_600) as board:
        assert board.wait_for(r"^hello ") == (
            "hello raspberry_pi_pico_w kiln 5 None microcontroller.ResetReason.POWER_ON "
            "circuitpython True"
        )
        assert board.lines[0] == "code.py output:"
        _, free, used, rtc_time = board.wait_for("^heap ").split()
        assert int(free) > 100_000 and int(used) > 0
        assert int(free) + int(used) == pytest.approx(131_072, abs=500)
        assert int(rtc_time) < 946_684_900, "the RTC starts in 2000 until the firmware sets it"
        status = board.status()
        assert status["ok"] and status["led"] == [255, 255, 255]
        assert status["boot_reset_reason"] == "POWER_ON" and status["net"] == "up"
        assert status["speed"] == 5 and status["uptime_s"] > 0
        assert status["wall_s"] == pytest.approx(1_767_225_600 + status["virtual_s"], abs=1)
        assert status["wired"] == {
            "max31856": "SCK=GP18 CS=GP17",
            "flame": "ADC=GP26 divider=1",
        }
        control = board.control
        assert control.send({"cmd": "speed", "value": 2})["speed"] == 2
        assert control.send({"cmd": "net", "state": "slow", "delay_s": 1.5})["net"] == "slow"
        assert control.send({"cmd": "ntp", "enabled": False}) == {"ok": True, "ntp": False}
        assert control.send({"cmd": "fault", "name": "open_tc", "active": True})["injected"] == [
            "open_tc"
        ]
        assert control.send({"cmd": "furnace", "flame": "out"})["furnace"]["flame"] == "out"
        assert not control.send({"cmd": "fault", "name": "gremlins"})["ok"]
        assert not control.send({"cmd": "warp"})["ok"]
        assert board.status()["net"] == "slow"
    assert board.returncode is not None


def test_reset_reexecs_with_nvm_kept_and_power_cycle_keeps_it_too(tmp_path: Path) -> None:
    drive = make_drive(
        tmp_path,
        """
        import time, microcontroller
        count = microcontroller.nvm[0]
        count = 0 if count == 0xFF else count
        print("boot", count, microcontroller.cpu.reset_reason)
        if count < 2:
            microcontroller.nvm[0] = count + 1
            microcontroller.reset()
        while True:
            time.sleep(0.05)
        """,
    )
    with VirtualBoardProcess(drive) as board:
        board.wait_for("^boot 2 microcontroller.ResetReason.SOFTWARE$")
        assert [line for line in board.lines if line.startswith("boot")] == [
            "boot 0 microcontroller.ResetReason.POWER_ON",
            "boot 1 microcontroller.ResetReason.SOFTWARE",
            "boot 2 microcontroller.ResetReason.SOFTWARE",
        ]
        assert board.status()["resets"] == 2
        pid = board.pid
        since = board.mark()
        assert board.control.send({"cmd": "reset"}) == {"ok": True}
        board.wait_for("^boot 2 microcontroller.ResetReason.RESET_PIN$", since=since)
        assert board.pid == pid, "a reset re-executes the same process"
    with VirtualBoardProcess(drive) as board:
        board.wait_for("^boot 2 microcontroller.ResetReason.POWER_ON$")


WATCHDOG_CODE = """
import time, microcontroller, watchdog
reason = str(microcontroller.cpu.reset_reason)
print("reason", reason)
if reason.endswith("WATCHDOG"):
    while True:
        time.sleep(0.05)
wdt = microcontroller.watchdog
wdt.timeout = 1.0
wdt.mode = watchdog.WatchDogMode.RESET
for _ in range(5):
    time.sleep(0.5)
    wdt.feed()
print("hanging")
time.sleep(10)
"""


def test_watchdog_fail_mode_fails_the_run(tmp_path: Path) -> None:
    with VirtualBoardProcess(make_drive(tmp_path, WATCHDOG_CODE), speed=10) as board:
        board.wait_for("^hanging$")
        line = board.wait_for("VIRTUAL watchdog", stderr=True)
        expired = re.fullmatch(
            r"VIRTUAL watchdog expired after (\d+\.\d{3}) s \(timeout 1 s\)", line
        )
        assert expired, line
        # Never before the timeout; after it by as long as the monitor takes to wake, which a
        # loaded machine stretches (0.1 real seconds are 1 virtual second at speed 10). The line
        # prints the gap to 3 places, so a gap just past 1 s reads 1.000.
        assert 1.0 <= float(expired.group(1)) < 3.0, line
        assert board.wait() == EXIT_WATCHDOG_FAILED


def test_watchdog_reset_mode_resets_the_board(tmp_path: Path) -> None:
    drive = make_drive(tmp_path, WATCHDOG_CODE)
    with VirtualBoardProcess(drive, speed=10, watchdog="reset") as board:
        board.wait_for("^reason microcontroller.ResetReason.WATCHDOG$")
        assert board.status()["watchdog"]["mode"] is None
        assert "VIRTUAL watchdog expired" in board.wait_for("watchdog", stderr=True)


def test_kill_dies_at_once(tmp_path: Path) -> None:
    drive = make_drive(tmp_path, "import time\nprint('up')\nwhile True:\n    time.sleep(0.05)\n")
    with VirtualBoardProcess(drive) as board:
        board.wait_for("^up$")
        assert board.kill() == KILLED_EXIT


def test_uncaught_exception_prints_the_traceback_and_idles(tmp_path: Path) -> None:
    drive = make_drive(
        tmp_path,
        "import helper\nhelper.fail()\n",
        files={"lib/helper.py": "def fail():\n    raise ValueError('boom')\n"},
    )
    with VirtualBoardProcess(drive) as board:
        board.wait_for("^Code done running.$")
        start = board.lines.index("Traceback (most recent call last):")
        assert board.lines[start : start + 4] == [
            "Traceback (most recent call last):",
            '  File "code.py", line 2, in <module>',
            '  File "/lib/helper.py", line 2, in fail',
            "ValueError: boom",
        ]
        assert board.status()["ok"], "the board idles, it does not exit"


def test_scenario_and_safe_mode(tmp_path: Path) -> None:
    drive = make_drive(
        tmp_path,
        """
        import time, microcontroller, supervisor, wifi
        print("code", microcontroller.cpu.reset_reason, supervisor.runtime.safe_mode_reason)
        while wifi.radio.connected:
            time.sleep(0.1)
        print("radio lost at", round(time.monotonic()))
        while True:
            time.sleep(0.1)
        """,
        settings='CIRCUITPY_WIFI_SSID = "studio"\n',
        files={
            "safemode.py": """
            import microcontroller, supervisor
            print("safe", supervisor.runtime.safe_mode_reason)
            microcontroller.reset()
            """
        },
    )
    scenario = [{"at_s": 20, "cmd": "net", "state": "down"}]
    with VirtualBoardProcess(
        drive, speed=20, scenario=scenario, extra_args=["--safe-mode", "BROWNOUT"]
    ) as board:
        board.wait_for("^safe supervisor.SafeModeReason.BROWNOUT$")
        board.wait_for("^code microcontroller.ResetReason.SOFTWARE supervisor.SafeModeReason.NONE$")
        line = board.wait_for("^radio lost at ")
        # at_s counts from power-on, code.py's clock from the reset after safe mode: the safe
        # mode boot takes a share of the 20 s that grows with the machine's load.
        assert 0 < int(line.split()[-1]) <= 21
        assert board.status()["net"] == "down"


@pytest.mark.parametrize("missing", ["code.py", "settings.toml"])
def test_a_drive_without_a_file_still_boots(tmp_path: Path, missing: str) -> None:
    drive = make_drive(tmp_path, "print('ran')\n")
    (drive / missing).unlink()
    with VirtualBoardProcess(drive) as board:
        if missing == "code.py":
            assert board.status()["ok"]
            assert "ran" not in board.lines
        else:
            board.wait_for("^ran$")


def test_neopixel_through_the_real_driver_with_its_power_pin(tmp_path: Path) -> None:
    drive = make_drive(
        tmp_path,
        """
        import time, board, neopixel
        pixel = neopixel.NeoPixel(board.NEOPIXEL, 1, brightness=1.0, auto_write=True)
        pixel[0] = (255, 0, 40)
        print("lit")
        while True:
            time.sleep(0.05)
        """,
        board=("adafruit_feather_esp32s3_4mbflash_2mbpsram", FEATHER_MODULE),
        libraries=("neopixel", "adafruit_pixelbuf"),
    )
    with VirtualBoardProcess(drive) as board:
        board.wait_for("^lit$")
        assert board.status()["led"] == [255, 0, 40]


def test_a_reset_abandons_connections_without_closing_them(tmp_path: Path) -> None:
    server = EchoServer()
    drive = make_drive(
        tmp_path,
        """
        import os, time, microcontroller, socketpool, wifi
        if microcontroller.cpu.reset_reason is microcontroller.ResetReason.POWER_ON:
            sock = socketpool.SocketPool(wifi.radio).socket()
            sock.settimeout(2)
            sock.connect(("127.0.0.1", int(os.getenv("PORT"))))
            sock.send(b"hi")
            print("connected")
            microcontroller.reset()
        print("second boot")
        while True:
            time.sleep(0.05)
        """,
        settings=f'CIRCUITPY_WIFI_SSID = "studio"\nPORT = {server.port}\n',
    )
    try:
        with VirtualBoardProcess(drive) as board:
            board.wait_for("^second boot$")
            assert server.wait_end(0.3) is None, "the broker would only notice by keep-alive"
            assert bytes(server.received) == b"hi"
        assert server.wait_end() is not None, "gone when the board powers off"
    finally:
        server.close()
