"""``wifi.radio``: joining the access point, and what the radio reports.

Joining takes ``ASSOCIATE_S`` virtual seconds when the network is reachable; with the
access point gone (net ``down``) ``connect`` waits its timeout (``DEFAULT_CONNECT_TIMEOUT_S``
when none is given) and raises ``ConnectionError``. Once joined, the radio rejoins by
itself when the access point comes back, as CircuitPython's does. ``enabled = False``
drops the association; enabling again needs a new ``connect``.
"""

import ipaddress
import random
import types
from typing import NamedTuple

from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.enums import EnumValue
from sensor_bridge.virtual.network import NetEnvironment

ASSOCIATE_S = 1.2
DEFAULT_CONNECT_TIMEOUT_S = 8.0
BOARD_IP = "192.168.4.37"
GATEWAY_IP = "192.168.4.1"
RSSI_DBM, RSSI_JITTER_DB = -61, 2.0


class AuthMode:
    OPEN = EnumValue("wifi.AuthMode", "OPEN")
    WPA2 = EnumValue("wifi.AuthMode", "WPA2")
    PSK = EnumValue("wifi.AuthMode", "PSK")


class Network(NamedTuple):
    """``wifi.Network``: the access point the radio is joined to."""

    ssid: str
    bssid: bytes
    rssi: int
    channel: int
    country: str
    authmode: tuple[EnumValue, ...]


class Radio:
    def __init__(self, env: NetEnvironment, clock: VirtualClock, rng: random.Random) -> None:
        self._env = env
        self._clock = clock
        self._rng = rng
        self._ssid: str | None = None
        self.mac_address = bytes([0x28, 0xCD, 0xC1, 0x0F, 0x3A, 0x5B])
        self._hostname = "cpy-" + self.mac_address[3:].hex()
        self.tx_power = 20.0

    @property
    def enabled(self) -> bool:
        return self._env.radio_enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if value:
            self._env.set_radio(enabled=True)
        else:
            self._env.set_radio(enabled=False, joined=False)

    @property
    def hostname(self) -> str:
        return self._hostname

    @hostname.setter
    def hostname(self, value: str | bytes) -> None:
        name = value.decode() if isinstance(value, bytes) else str(value)
        if not 1 <= len(name) <= 253:
            raise ValueError("Hostname must be between 1 and 253 characters")
        self._hostname = name

    def connect(
        self,
        ssid: str | bytes,
        password: str | bytes = b"",
        *,
        channel: int = 0,
        bssid: str | bytes | None = None,
        timeout: float | None = None,
    ) -> None:
        if not self.enabled:
            raise RuntimeError("Wifi is not enabled")
        name = ssid.decode() if isinstance(ssid, bytes) else str(ssid)
        secret = password.encode() if isinstance(password, str) else bytes(password)
        if not 1 <= len(name.encode()) <= 32:
            raise ValueError("ssid length must be 1-32")
        if len(secret) != 0 and not 8 <= len(secret) <= 64:
            raise ValueError("password length must be 8-64")
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0")
        if self.connected and name == self._ssid:
            return
        wait = DEFAULT_CONNECT_TIMEOUT_S if timeout is None or timeout == 0 else timeout
        if self._env.state == "down" or wait < ASSOCIATE_S:
            self._clock.sleep(wait)
            raise ConnectionError("No network with that ssid")
        self._clock.sleep(ASSOCIATE_S)
        self._ssid = name
        self._env.set_radio(joined=True)

    def auto_join(self, ssid: str) -> None:
        """What CircuitPython does with CIRCUITPY_WIFI_SSID before code.py: join if it can."""
        if self._env.state != "down":
            self._ssid = ssid
            self._env.set_radio(joined=True)

    @property
    def connected(self) -> bool:
        return self._env.link() != "down"

    @property
    def ipv4_address(self) -> ipaddress.IPv4Address | None:
        return ipaddress.IPv4Address(BOARD_IP) if self.connected else None

    @property
    def ipv4_gateway(self) -> ipaddress.IPv4Address | None:
        return ipaddress.IPv4Address(GATEWAY_IP) if self.connected else None

    @property
    def ipv4_subnet(self) -> ipaddress.IPv4Address | None:
        return ipaddress.IPv4Address("255.255.255.0") if self.connected else None

    @property
    def ipv4_dns(self) -> ipaddress.IPv4Address | None:
        return ipaddress.IPv4Address(GATEWAY_IP) if self.connected else None

    @property
    def ap_info(self) -> Network | None:
        if not self.connected or self._ssid is None:
            return None
        rssi = round(RSSI_DBM + self._rng.gauss(0.0, RSSI_JITTER_DB))
        return Network(self._ssid, bytes.fromhex("ac84c6112233"), rssi, 6, "US", (AuthMode.PSK,))

    def ping(self, ip: object, *, timeout: float = 0.5) -> float | None:
        """Round trip in seconds, or None when nothing answers within ``timeout``."""
        if self._env.link() in ("down", "blackhole"):
            self._clock.sleep(timeout)
            return None
        self._clock.sleep(0.004)
        return 0.004

    def start_station(self) -> None:
        """The station interface is always on here."""

    def stop_station(self) -> None:
        """The station interface is always on here."""


def build_wifi(radio: Radio) -> types.ModuleType:
    module = types.ModuleType("wifi", "Wi-Fi station (virtual board).")
    module.__dict__.update(radio=radio, Radio=Radio, Network=Network, AuthMode=AuthMode)
    return module
