"""``wifi.radio``: joining the access point, and what the radio reports, as the board's port
does it (``families.PortFamily``).

Joining takes ``ASSOCIATE_S`` virtual seconds when the network is reachable. When it is not,
how long ``connect`` blocks is the port's: raspberrypi polls the CYW43 until its timeout
(``DEFAULT_CONNECT_TIMEOUT_S`` when none is given; ports/raspberrypi/common-hal/wifi/Radio.c);
espressif waits for the driver whatever the timeout: one all-channel scan with the access
point gone (net ``down``, ``wifi_connect_unbounded_s``), the driver's association timers with
it on the air but silent (net ``ap_silent``, ``wifi_connect_attempt_s``, repeated while the
deadline allows). Either raises ``ConnectionError`` with CircuitPython's text
(shared-bindings/wifi/Radio.c). Once joined, the radio rejoins by itself when the access
point comes back, as CircuitPython's does. ``enabled = False`` drops the association
(enabling again needs a new ``connect``) and, only where the port really stops the radio,
clears a wedged radio. ``ap_info`` raises NotImplementedError on raspberrypi.
"""

import ipaddress
import math
import random
import types
from typing import NamedTuple

from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.enums import EnumValue
from sensor_bridge.virtual.families import PortFamily
from sensor_bridge.virtual.network import NetEnvironment

ASSOCIATE_S = 1.2
DEFAULT_CONNECT_TIMEOUT_S = 8.0
"""raspberrypi's timeout when none (or 0) is given."""
ESPRESSIF_RETRIES = 5
"""ports/espressif/common-hal/wifi/Radio.c: ``retries_left = 5`` (until the deadline)."""
UNSPECIFIED_FAILURE = 1
"""WIFI_RADIO_ERROR_UNSPECIFIED (shared-bindings/wifi/Radio.h): raspberrypi's timeout."""
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
    def __init__(
        self, env: NetEnvironment, clock: VirtualClock, rng: random.Random, family: PortFamily
    ) -> None:
        self._env = env
        self._clock = clock
        self._rng = rng
        self._family = family
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
            return
        self._env.set_radio(enabled=False, joined=False)
        if self._family.radio_disable_stops_radio:
            self._env.power_cycle_radio()

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
        if len(secret) == 64 and not all(chr(c) in "0123456789abcdefABCDEF" for c in secret):
            raise ValueError("Invalid hex password")
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0")
        if self.connected and name == self._ssid:
            return
        if self._family.wifi_connect_timeout_bounds_call:
            self._join_bounded(name, timeout or DEFAULT_CONNECT_TIMEOUT_S)
        else:
            self._join_unbounded(name, timeout or 0.0)

    def _join_bounded(self, name: str, timeout: float) -> None:
        """raspberrypi: leave, then poll the link until it is up or the deadline passes."""
        self._env.set_radio(joined=False)
        state = self._env.state
        if state in ("down", "ap_silent") or timeout < ASSOCIATE_S:
            self._clock.sleep(timeout)
            if state == "down":
                raise ConnectionError("No network with that ssid")
            raise ConnectionError(f"Unknown failure {UNSPECIFIED_FAILURE}")
        self._associate(name)

    def _join_unbounded(self, name: str, timeout: float) -> None:
        """espressif: the deadline only stops the retries; each attempt runs to its end."""
        family, state = self._family, self._env.state
        if state == "down":
            # WIFI_REASON_NO_AP_FOUND, which common-hal/wifi/__init__.c does not retry.
            self._clock.sleep(family.wifi_connect_unbounded_s)
            raise ConnectionError("No network with that ssid")
        if state == "ap_silent":
            # A 4-way-handshake timeout is retried while the deadline allows, and is reported
            # as WIFI_RADIO_ERROR_AUTH_FAIL.
            attempt = family.wifi_connect_attempt_s
            retries = min(ESPRESSIF_RETRIES, math.floor(timeout / attempt))
            self._clock.sleep(attempt * (1 + retries))
            raise ConnectionError("Authentication failure")
        self._associate(name)

    def _associate(self, name: str) -> None:
        self._clock.sleep(ASSOCIATE_S)
        self._ssid = name
        self._env.set_radio(joined=True)

    def auto_join(self, ssid: str) -> None:
        """What CircuitPython does with CIRCUITPY_WIFI_SSID before code.py: join if it can."""
        if self._env.state not in ("down", "ap_silent"):
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
        if self._family.ap_info_raises:
            # ports/raspberrypi/common-hal/wifi/Radio.c: mp_raise_NotImplementedError(NULL).
            raise NotImplementedError()
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
