"""The LAN's NTP server for the VM: a UDP socket on loopback answering from the virtual wall
clock (``sensor_bridge.virtual.ntp``), as the network lets it.

The VM's socketpool sends every datagram for port 123 here. Nothing answers while NTP is
disabled or the link is down or a black hole; a slow link delays the answer.
"""

import socket
import threading

from sensor_bridge.virtual import ntp
from sensor_bridge.virtual.network import OUTAGE_STATES, NetEnvironment


class NtpServer:
    def __init__(self, net: NetEnvironment) -> None:
        self._net = net
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]

    def start(self) -> None:
        threading.Thread(target=self._serve, name="vm-ntp", daemon=True).start()

    def _serve(self) -> None:
        while True:
            request, client = self._socket.recvfrom(ntp.PACKET_SIZE * 2)
            net = self._net
            link = net.link()
            if not net.ntp_enabled or link in OUTAGE_STATES:
                continue
            delay = net.delay_s if link == "slow" else 0.0
            reply = ntp.server_reply(request, net.wall_clock())
            if reply is not None:
                threading.Timer(delay, self._socket.sendto, (reply, client)).start()
