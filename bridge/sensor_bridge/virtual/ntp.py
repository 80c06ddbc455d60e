"""The LAN NTP server stand-in: answers an NTP client request from the virtual wall clock.

An NTPv4 server reply (RFC 5905): mode 4, stratum 1, the client's poll echoed, the
client's transmit timestamp as origin, receive and transmit timestamps from the virtual
wall clock. adafruit_ntp reads the receive and transmit timestamps and the poll.
"""

import struct

PACKET_SIZE = 48
NTP_EPOCH_OFFSET = 2_208_988_800
"""Seconds from 1900-01-01 (NTP era 0) to 1970-01-01."""
SERVER_TURNAROUND_S = 0.0002
STRATUM = 1
PRECISION = -20
REFERENCE_ID = b"GPS\x00"


def ntp_timestamp(unix_s: float) -> bytes:
    seconds = int(unix_s // 1)
    fraction = int((unix_s - seconds) * 2**32)
    return struct.pack("!II", (seconds + NTP_EPOCH_OFFSET) & 0xFFFFFFFF, fraction)


def server_reply(request: bytes, received_at: float) -> bytes | None:
    """The reply to ``request`` received at wall time ``received_at``; None if not a query."""
    if len(request) < PACKET_SIZE:
        return None
    version = (request[0] >> 3) & 0x07
    mode = request[0] & 0x07
    if mode != 3 or not 1 <= version <= 4:
        return None
    poll = request[2]
    header = struct.pack(
        "!BBbb", (0 << 6) | (version << 3) | 4, STRATUM, poll if poll < 128 else 0, PRECISION
    )
    return (
        header
        + struct.pack("!II", 0, 0x00000010)  # root delay, root dispersion (short format)
        + REFERENCE_ID
        + ntp_timestamp(received_at - 16.0)  # reference: last disciplined 16 s ago
        + request[40:48]  # origin = the client's transmit timestamp
        + ntp_timestamp(received_at)
        + ntp_timestamp(received_at + SERVER_TURNAROUND_S)
    )
