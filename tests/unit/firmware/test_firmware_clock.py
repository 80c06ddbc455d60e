"""The clock's SNTP exchange against the virtual board's NTP server (RFC 5905 replies)."""

import struct

import pytest

from sensor_node.clock import sntp_offset_ms
from sensor_node.timing import Uptime
from tests.unit.firmware.fakes import FakeBroker, FakeClock, FakeSocketPool, NtpSocket

WALL_S = 1_764_000_000.25


class Pool(FakeSocketPool):
    def __init__(self, clock: FakeClock, reply: bytes | None = None) -> None:
        super().__init__(FakeBroker(clock), lambda: WALL_S + clock.ms / 1000)
        self._clock = clock
        self._forced = reply

    def socket(self, family: int = 2, kind: int = 1) -> object:
        sock = super().socket(family, kind)
        if self._forced is not None:
            assert isinstance(sock, NtpSocket)
            sock.sendto = lambda data, address: len(data)  # type: ignore[method-assign]
            sock._reply = self._forced
        return sock


def offset(pool: FakeSocketPool, uptime: Uptime) -> int:
    return sntp_offset_ms(pool, "ntp.lan", 123, 2.0, uptime)


def reply(first: int, stratum: int, seconds: int, size: int = 48) -> bytes:
    packet = bytearray(48)
    packet[0], packet[1] = first, stratum
    struct.pack_into("!II", packet, 40, seconds, 0)
    return bytes(packet[:size])


def test_the_offset_is_the_servers_time_at_the_middle_of_the_round_trip() -> None:
    clock = FakeClock()
    uptime = Uptime(clock.ticks)
    clock.advance(90_000)
    assert offset(Pool(clock), uptime) == WALL_S * 1000


def test_no_answer_is_an_oserror_after_the_timeout() -> None:
    clock = FakeClock()
    with pytest.raises(OSError):
        offset(FakeSocketPool(FakeBroker(clock), lambda: None), Uptime(clock.ticks))
    assert clock.ms == 1 + 2000, "the request's millisecond on the way, then the timeout"


@pytest.mark.parametrize(
    "answer",
    [reply(0x24, 0, 3_973_000_000), reply(0x23, 1, 3_973_000_000), reply(0x24, 1, 0, size=40)],
    ids=["kiss-of-death", "client-mode", "short"],
)
def test_an_answer_that_is_not_a_servers_time_is_refused(answer: bytes) -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="not an NTP server reply"):
        offset(Pool(clock, answer), Uptime(clock.ticks))


def test_after_2036_the_seconds_are_read_in_era_1() -> None:
    clock = FakeClock()
    # Unix second 2,208,988,800 (in 2040) is NTP second 4,417,977,600: 123,010,304 in era 1.
    era_1_seconds = 2_208_988_800 * 2 - 2**32
    got = offset(Pool(clock, reply(0x24, 1, era_1_seconds)), Uptime(clock.ticks))
    # Sent at uptime 0, answered at 1 (the forced reply skips sendto's millisecond): the
    # middle of the round trip rounds down to uptime 0, one millisecond before the answer.
    assert got == 2_208_988_800 * 1000 - 1
