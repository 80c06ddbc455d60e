"""``wifi.radio`` (shared-bindings/wifi/Radio.c): the host's radio, which does what the board's
port does (``sensor_bridge.virtual.wifi.Radio`` with the family row: how long ``connect``
blocks, what ``enabled = False`` stops, ``ap_info`` raising NotImplementedError on
raspberrypi). ``connected`` and the addresses follow the link the host pushes: no round trip.
"""

from ipaddress import IPv4Address

import _vboard
from _vboard import Members, call, config

AuthMode = Members("wifi.AuthMode", "OPEN WEP WPA WPA2 WPA3 PSK EAP ENTERPRISE")


class Network:
    """``wifi.Network``: the access point the radio is joined to."""

    def __init__(self, ssid, bssid, rssi, channel, country):
        self.ssid = ssid
        self.bssid = bytes(bssid)
        self.rssi = rssi
        self.channel = channel
        self.country = country
        self.authmode = (AuthMode.PSK,)


class Radio:
    mac_address = b"\x28\xcd\xc1\x0f\x3a\x5b"
    tx_power = 20.0
    hostname = "cpy-0f3a5b"

    def __init__(self):
        self._enabled = True

    @property
    def enabled(self):
        return self._enabled

    @enabled.setter
    def enabled(self, value):
        call("radio_enabled", bool(value))
        self._enabled = bool(value)
        _vboard.poll()

    def connect(self, ssid, password=b"", *, channel=0, bssid=None, timeout=None):
        if not isinstance(ssid, str):
            ssid = bytes(ssid).decode()
        if not isinstance(password, str):
            password = bytes(password or b"").decode()
        link, delay = call("wifi_connect", ssid, password, timeout)
        _vboard.set_link(link, delay)

    @property
    def connected(self):
        _vboard.poll()
        return _vboard.link != "down"

    def _address(self, text):
        return IPv4Address(text) if self.connected else None

    @property
    def ipv4_address(self):
        return self._address(config["ip"])

    @property
    def ipv4_gateway(self):
        return self._address(config["gateway"])

    @property
    def ipv4_subnet(self):
        return self._address("255.255.255.0")

    @property
    def ipv4_dns(self):
        return self._address(config["gateway"])

    @property
    def ap_info(self):
        info = call("ap_info")
        return None if info is None else Network(*info)

    def ping(self, ip, *, timeout=0.5):
        if _vboard.link in ("down", "blackhole"):
            _vboard.wait(timeout)
            return None
        return 0.004

    def start_station(self):
        """The station interface is always on here."""

    def stop_station(self):
        """The station interface is always on here."""


radio = Radio()
