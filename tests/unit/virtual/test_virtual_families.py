"""Each port family's own behaviour on the virtual board, as ``families`` records it from
CircuitPython's source: ap_info, errno numbers, the radio restart, the Wi-Fi join's real
duration, the watchdog reconfiguration, os.getenv per release line, nvm wear. Every test
here failed while the virtual board answered the way the firmware expected."""

import random
import socket
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge import provision
from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.errnos import build_errno
from sensor_bridge.virtual.espidf import IDFError
from sensor_bridge.virtual.families import (
    CHIP_FAMILY,
    ERRNO,
    ESPRESSIF,
    FAMILIES,
    RASPBERRYPI,
    RELEASE_LINES,
    SOURCES,
    PortFamily,
    release_line,
)
from sensor_bridge.virtual.getenv import on_board, read_settings
from sensor_bridge.virtual.mcu import Nvm
from sensor_bridge.virtual.network import NetEnvironment
from sensor_bridge.virtual.pins import BOARDS, board_spec
from sensor_bridge.virtual.sockets import build_socketpool
from sensor_bridge.virtual.wdt import WatchDogMode, WatchDogTimer
from sensor_bridge.virtual.wifi import Radio
from tests.unit.virtual.rig import EchoServer

WIFI_CONNECT_TIMEOUT_S = 5.0
"""sensor_node.link's timeout for the join."""


class Net:
    def __init__(self, family: PortFamily, speed: float = 200) -> None:
        self.clock = VirtualClock(speed=speed)
        self.env = NetEnvironment(self.clock.physical)
        self.radio = Radio(self.env, self.clock, random.Random(1), family)
        self.radio.connect("studio", "furnace-pass")
        self.pool: Any = build_socketpool(self.env, self.clock, family).SocketPool(self.radio)

    def connect(self, port: int, timeout: float = 1.0) -> Any:
        sock = self.pool.socket(self.pool.AF_INET, self.pool.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        return sock


def connect_errno(net: Net, port: int) -> int:
    with pytest.raises(OSError) as caught:
        net.connect(port)
    assert type(caught.value).__name__ == "OSError"
    assert caught.value.errno is not None
    return caught.value.errno


def closed_port() -> int:
    """A loopback port nothing listens on: the kernel answers a SYN with a reset."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_every_row_cites_its_source() -> None:
    for family in FAMILIES.values():
        for field in PortFamily._fields[1:]:
            value = getattr(family, field)
            if value in (0, 0.0, False, "ok") and field != "ap_info_raises":
                continue  # nothing to cite where the port does nothing special
            assert (family.name, field) in SOURCES, (family.name, field)
    assert set(CHIP_FAMILY) >= {board_spec(board_id).family for board_id in BOARDS}
    assert [line.first for line in RELEASE_LINES] == [(9, 0, 0), (10, 0, 0), (10, 2, 0)]


@pytest.mark.parametrize("family", [RASPBERRYPI, ESPRESSIF], ids=lambda f: f.name)
def test_ap_info_is_the_ports(family: PortFamily) -> None:
    net = Net(family)
    if family.ap_info_raises:
        with pytest.raises(NotImplementedError):
            _ = net.radio.ap_info
    else:
        info = net.radio.ap_info
        assert info is not None and -70 < info.rssi < -50


def test_errno_numbers_are_newlibs_not_the_hosts() -> None:
    errno = build_errno()
    assert (errno.ETIMEDOUT, errno.EINPROGRESS, errno.ECONNRESET) == (116, 119, 104)
    assert errno.errorcode[116] == "ETIMEDOUT"
    assert not hasattr(errno, "EWOULDBLOCK"), "py/moderrno.c has no such name"


@pytest.mark.parametrize("family", [RASPBERRYPI, ESPRESSIF], ids=lambda f: f.name)
def test_a_refused_or_unanswered_connect_raises_the_ports_errno(family: PortFamily) -> None:
    net = Net(family)
    reset = ERRNO[family.reset_errno]
    assert connect_errno(net, closed_port()) == reset, "a closed port answers with a TCP reset"
    net.env.set_state("refuse")
    assert connect_errno(net, closed_port()) == reset
    net.env.set_state("blackhole")
    assert connect_errno(net, closed_port()) == ERRNO[family.connect_timeout_errno]
    assert (ERRNO["ECONNRESET"], ERRNO["EINPROGRESS"], ERRNO["ETIMEDOUT"]) == (104, 119, 116)


@pytest.mark.parametrize("family", [RASPBERRYPI, ESPRESSIF], ids=lambda f: f.name)
def test_a_radio_restart_recovers_a_wedged_radio_only_where_it_stops_the_radio(
    family: PortFamily,
) -> None:
    net = Net(family)
    server = EchoServer()
    net.env.set_state("wedged")
    assert net.radio.connected, "associated, and nothing passes"
    assert connect_errno(net, server.port) == ERRNO[family.connect_timeout_errno]

    net.radio.enabled = False
    net.radio.enabled = True
    assert not net.radio.connected
    net.radio.connect("studio", "furnace-pass")
    if family.radio_disable_stops_radio:
        net.connect(server.port).close()
    else:
        assert connect_errno(net, server.port) == ERRNO[family.connect_timeout_errno]
    server.close()
    assert net.env.state == "up"


@pytest.mark.parametrize(
    ("family", "ap", "blocked_s", "message"),
    [
        (RASPBERRYPI, "down", WIFI_CONNECT_TIMEOUT_S, "No network with that ssid"),
        (RASPBERRYPI, "ap_silent", WIFI_CONNECT_TIMEOUT_S, "Unknown failure 1"),
        (ESPRESSIF, "down", ESPRESSIF.wifi_connect_unbounded_s, "No network with that ssid"),
        (ESPRESSIF, "ap_silent", ESPRESSIF.wifi_connect_attempt_s, "Authentication failure"),
    ],
    ids=["raspberrypi-absent", "raspberrypi-silent", "espressif-absent", "espressif-silent"],
)
def test_a_failed_join_blocks_as_long_as_the_port_does(
    family: PortFamily, ap: str, blocked_s: float, message: str
) -> None:
    # The join sleeps exactly blocked_s; a loaded CI machine only ever wakes it late, so the
    # upper margin (50 ms real at speed 20) is slack for the scheduler and still tells
    # 2.4 s, 5 s and 14.4 s apart.
    net = Net(family, speed=20)
    net.radio.enabled = False
    net.radio.enabled = True
    net.env.set_state(ap)
    started = net.clock.physical()
    with pytest.raises(ConnectionError, match=message):
        net.radio.connect("studio", "furnace-pass", timeout=WIFI_CONNECT_TIMEOUT_S)
    blocked = net.clock.physical() - started
    assert blocked_s <= blocked < blocked_s + 1.0, blocked


@pytest.mark.parametrize("board_id", sorted(BOARDS))
def test_each_boards_watchdog_covers_its_ports_longest_join(board_id: str) -> None:
    numbers = provision.board_numbers(board_id)
    family = CHIP_FAMILY[board_spec(board_id).family]
    if family.wifi_connect_timeout_bounds_call:
        join_s = WIFI_CONNECT_TIMEOUT_S + 0.5  # stop_station's own wait
    else:
        join_s = WIFI_CONNECT_TIMEOUT_S + family.wifi_connect_attempt_s
    assert numbers.WATCHDOG_MIN_S >= join_s * 1.25, (board_id, join_s)
    assert numbers.WATCHDOG_MIN_S <= numbers.WATCHDOG_MAX_S
    assert numbers.RADIO_RESTART is family.radio_disable_stops_radio


def test_changing_an_armed_watchdogs_timeout_is_the_ports() -> None:
    for family in (RASPBERRYPI, ESPRESSIF):
        wdt = WatchDogTimer(VirtualClock(), max_timeout_s=None, can_raise=False, family=family)
        wdt.timeout = 30.0
        wdt.timeout = 20.0  # not running yet: fine everywhere
        wdt.mode = WatchDogMode.RESET
        if family.watchdog_timeout_change_when_armed == "ok":
            wdt.timeout = 8.0
        else:
            with pytest.raises(IDFError, match="Invalid argument") as caught:
                wdt.timeout = 8.0
            assert f"{type(caught.value).__module__}.{type(caught.value).__name__}" == (
                family.watchdog_timeout_change_when_armed
            )
            assert isinstance(caught.value, OSError)
        assert wdt.timeout == 8.0, "espressif reconfigures before the add fails"


SETTINGS = (
    'QUOTED = "3.27"\n'
    "RATIO = 3.27\n"
    "PORT = 1883 # comment\n"
    "HEX = 0x1F\n"
    'BROKEN = "no end\n'
    "[section]\n"
    "HIDDEN = 1\n"
)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ((9, 2, 9), {"QUOTED": "3.27", "RATIO": ValueError, "PORT": 1883, "HEX": 31}),
        ((10, 1, 0), {"QUOTED": "3.27", "RATIO": ValueError, "PORT": 1883, "HEX": 31}),
        ((10, 2, 0), {"QUOTED": "3.27", "RATIO": "3.27", "PORT": "1883", "HEX": "0x1F"}),
    ],
)
def test_os_getenv_follows_the_release_line(
    tmp_path: Path, version: tuple[int, int, int], expected: dict[str, Any]
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS)
    line = release_line(version)
    for key, value in expected.items():
        if value is ValueError:
            with pytest.raises(ValueError, match="invalid syntax for integer with base 10"):
                on_board(read_settings(path), key, None, line)
        else:
            assert on_board(read_settings(path), key, None, line) == value, key
    assert on_board(read_settings(path), "HIDDEN", "default", line) == "default", (
        "after a table header"
    )
    assert on_board(read_settings(path), "MISSING", "default", line) == "default"
    if line.getenv_unquoted_non_int == "str":
        assert on_board(read_settings(path), "BROKEN", "default", line) == "default"
    else:
        with pytest.raises(ValueError, match="Invalid byte"):
            on_board(read_settings(path), "BROKEN", None, line)


@pytest.mark.parametrize("family", [RASPBERRYPI, ESPRESSIF], ids=lambda f: f.name)
def test_nvm_counts_the_flash_it_wears(tmp_path: Path, family: PortFamily) -> None:
    nvm = Nvm(tmp_path / "nvm.bin", 4096, family.nvm_erase_bytes)
    for index in range(10):
        nvm[0:4] = bytes([index]) * 4
    again = Nvm(tmp_path / "nvm.bin", 4096, family.nvm_erase_bytes)
    assert again.wear() == {
        "writes": 10,
        "erased_bytes": 10 * family.nvm_erase_bytes,
        "erased_sectors": 10 * family.nvm_erase_bytes // 4096,
    }
