"""What survives a reset in microcontroller.nvm."""

from sensor_node import persist


def test_a_blank_nvm_is_the_first_boot():
    nvm = bytearray(256)

    assert persist.begin_boot(nvm) == (1, None, None)
    assert bytes(nvm[:3]) == persist.MAGIC


def test_garbage_is_not_taken_for_state():
    nvm = bytearray(b"\xff" * 256)

    assert persist.begin_boot(nvm) == (1, None, None)


def test_boots_are_counted():
    nvm = bytearray(256)
    boots = [persist.begin_boot(nvm)[0] for _ in range(5)]

    assert boots == [1, 2, 3, 4, 5]


def test_a_reset_cause_is_reported_once():
    nvm = bytearray(256)
    persist.begin_boot(nvm)
    persist.record_reset_cause(nvm, "offline 1800 s")

    assert persist.begin_boot(nvm) == (2, "offline 1800 s", None)
    assert persist.begin_boot(nvm) == (3, None, None)


def test_safe_mode_is_reported_with_its_reset():
    nvm = bytearray(256)
    persist.record_safe_mode(nvm, "BROWNOUT")

    assert persist.begin_boot(nvm) == (1, "safe mode BROWNOUT", "BROWNOUT")


def test_long_and_odd_text_is_cut_and_made_ascii():
    nvm = bytearray(256)
    persist.record_reset_cause(nvm, "crash: ValueError: 1100 °C " + "x" * 200)

    cause = persist.begin_boot(nvm)[1]
    assert cause is not None
    assert len(cause) == 120
    assert cause.startswith("crash: ValueError: 1100 ?C xxx")


def test_only_the_layout_is_written():
    nvm = bytearray(b"\xaa" * 256)
    persist.begin_boot(nvm)

    assert nvm[persist.SIZE :] == bytearray(b"\xaa" * (256 - persist.SIZE))
