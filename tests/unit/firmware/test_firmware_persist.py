"""What survives a reset in microcontroller.nvm, and how rarely it is written."""

import pytest

from sensor_node import persist
from sensor_node.persist import LONG_BOOT_MS, BootRecord, hold_s

EARLY_MS = 60_000


class CountingNvm(bytearray):
    """nvm that counts its writes (each one erases a flash sector on a Pico)."""

    writes = 0

    def __setitem__(self, index, value):
        self.writes += 1
        super().__setitem__(index, value)


def boot(nvm, reason="POWER_ON"):
    record = BootRecord(nvm, reason, "STARTUP")
    if not record.counted:
        record.count()
    return record


def test_a_blank_nvm_is_the_first_boot():
    for blank in (bytearray(256), bytearray(b"\xff" * 256)):
        record = boot(blank)
        assert (record.number, record.cause, record.safe_mode) == (1, None, None)
        assert bytes(blank[:3]) == persist.MAGIC


def test_every_start_but_a_reset_takes_a_new_number_at_once():
    nvm = CountingNvm(256)
    numbers = [boot(nvm, reason).number for reason in ("POWER_ON", "WATCHDOG", "RESET_PIN")]

    # Each skips the number on record: a boot a reset started may have taken it.
    assert numbers == [1, 3, 5]
    assert nvm.writes == 3


def test_a_reset_reserves_the_next_number_and_reports_its_cause_once():
    nvm = CountingNvm(256)
    first = boot(nvm, "SOFTWARE")
    assert nvm.writes == 0
    assert first.reset(EARLY_MS, "crash: ValueError: x")

    second = boot(nvm, "SOFTWARE")
    assert (second.number, second.cause, second.safe_mode) == (2, "crash: ValueError: x", None)
    assert nvm.writes == 1, "the boot a reset starts writes nothing at its start"
    assert second.reset(2 * LONG_BOOT_MS, "offline 1800 s")
    assert boot(nvm, "SOFTWARE").cause == "offline 1800 s"
    assert boot(nvm, "WATCHDOG").cause is None, "only the boot the reset started reports it"


def test_a_soft_reload_takes_a_new_number_without_waiting_or_adding_to_the_streak():
    nvm = CountingNvm(256)
    BootRecord(nvm, "SOFTWARE", "STARTUP").reset(EARLY_MS, "crash")
    started = BootRecord(nvm, "SOFTWARE", "STARTUP")
    reloaded = BootRecord(nvm, "SOFTWARE", "REPL_RELOAD")  # Ctrl-D: the reset reason stays

    assert started.counted and reloaded.number == started.number + 1
    assert not reloaded.counted and reloaded.cause is None
    assert reloaded.start_hold_s() == 0
    reloaded.count()
    assert reloaded.streak == 1, "the crash's, not one more"


def test_a_boot_that_dies_after_a_reset_does_not_share_its_number():
    nvm = bytearray(256)
    boot(nvm).reset(EARLY_MS, "crash")
    died = boot(nvm, "SOFTWARE")  # publishes as 2, then the watchdog resets it

    assert boot(nvm, "WATCHDOG").number > died.number


def test_an_early_boot_writes_once_and_a_long_one_records_its_reset():
    nvm = CountingNvm(256)
    record = boot(nvm)
    assert nvm.writes == 1
    assert not record.reset(EARLY_MS, "crash"), "its early write is spent"
    assert nvm.writes == 1

    record = boot(nvm, "POWER_ON")
    assert record.reset(LONG_BOOT_MS, "offline 7200 s")
    assert nvm.writes == 3
    assert boot(nvm, "SOFTWARE").cause == "offline 7200 s"


def test_consecutive_early_writes_make_a_streak_and_an_hour_clears_it():
    nvm = bytearray(256)
    streaks = []
    record = boot(nvm)
    for _ in range(4):
        record.reset(EARLY_MS, "crash")
        streaks.append(record.streak)
        record = boot(nvm, "SOFTWARE")

    assert streaks == [1, 2, 3, 4]
    record.settle(LONG_BOOT_MS - 1)
    assert BootRecord(nvm, "POWER_ON", "STARTUP").streak == 4
    record.settle(LONG_BOOT_MS)
    assert BootRecord(nvm, "POWER_ON", "STARTUP").streak == 0


@pytest.mark.parametrize(
    ("streak", "seconds"),
    [(0, 0), (1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 600), (255, 600)],
)
def test_the_hold_doubles_up_to_ten_minutes(streak, seconds):
    assert hold_s(streak) == seconds


def test_safe_mode_is_reported_with_its_reset():
    nvm = bytearray(256)
    BootRecord(nvm, "BROWNOUT", "STARTUP").reset(0, "safe mode BROWNOUT", "BROWNOUT")

    record = boot(nvm, "SOFTWARE")
    assert (record.cause, record.safe_mode) == ("safe mode BROWNOUT", "BROWNOUT")


def test_long_and_odd_text_is_cut_and_made_ascii():
    nvm = bytearray(256)
    BootRecord(nvm, "POWER_ON", "STARTUP").reset(0, "crash: ValueError: 1100 °C " + "x" * 200)

    cause = BootRecord(nvm, "SOFTWARE", "STARTUP").cause
    assert cause is not None
    assert len(cause) == 120
    assert cause.startswith("crash: ValueError: 1100 ?C xxx")


def test_only_the_layout_is_written():
    nvm = bytearray(b"\xaa" * 256)
    boot(nvm)

    assert nvm[persist.SIZE :] == bytearray(b"\xaa" * (256 - persist.SIZE))
