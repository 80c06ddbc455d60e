"""The data-flow verdict: only an online device without fresh samples is the pipeline's fault."""

from sensor_bridge import dataflow as d


def test_verdicts() -> None:
    assert d.assess("a", d.ONLINE, 10.0, 180.0).verdict == d.FLOWING
    assert d.assess("a", d.ONLINE, 181.0, 180.0).verdict == d.STALE
    assert d.assess("a", d.ONLINE, None, 180.0).verdict == d.STALE
    assert d.assess("a", d.OFFLINE, None, 180.0).verdict == d.NOT_CONNECTED
    assert d.assess("a", d.UNKNOWN, 9999.0, 180.0).verdict == d.NOT_CONNECTED


def test_exit_codes() -> None:
    fresh = d.assess("a", d.ONLINE, 1.0, 180.0)
    offline = d.assess("b", d.OFFLINE, None, 180.0)
    stale = d.assess("c", d.ONLINE, 999.0, 180.0)
    assert d.exit_code([fresh, offline]) == d.EXIT_OK
    assert d.exit_code([]) == d.EXIT_OK
    assert d.exit_code([fresh, stale, offline]) == d.EXIT_STALE
    assert (d.EXIT_OK, d.EXIT_STALE, d.EXIT_CANNOT_CHECK) == (0, 1, 2)


def test_one_line_per_device() -> None:
    line = d.describe(d.assess("kiln", d.ONLINE, 4000.0, 180.0), "1h")
    assert line == (
        "kiln: online, newest sample 67 min ago: "
        "STALE: online on the broker, but no fresh samples (pipeline stalled)"
    )
    assert d.describe(d.assess("kiln", d.OFFLINE, None, 180.0), "1h").startswith(
        "kiln: offline, no sample in the last 1h: not connected"
    )
