"""The console line format and its parser."""

from hypothesis import given
from hypothesis import strategies as st

from sensor_bridge.console.lines import parse_line
from sensor_node.console import Console, format_line, format_value


def test_the_spec_examples_format_and_parse():
    line = format_line(12301, "INFO", "mqtt_connected", ("broker", "127.0.0.1:1883", "attempt", 1))

    assert line == "12.301 INFO mqtt_connected broker=127.0.0.1:1883 attempt=1"
    assert parse_line(line) == (
        12.301,
        "INFO",
        "mqtt_connected",
        {"broker": "127.0.0.1:1883", "attempt": "1"},
    )


def test_values_with_spaces_are_quoted():
    line = format_line(
        20,
        "ERROR",
        "settings",
        ("key", "SAMPLE_PERIOD_S", "problem", "must be a number between 0.5 and 60, got 'abc'"),
    )

    assert line == (
        "0.020 ERROR settings key=SAMPLE_PERIOD_S "
        "problem=\"must be a number between 0.5 and 60, got 'abc'\""
    )
    parsed = parse_line(line)
    assert parsed is not None
    assert parsed[3]["problem"] == "must be a number between 0.5 and 60, got 'abc'"


def test_none_floats_and_awkward_text():
    assert format_value(None) == "-"
    assert format_value(1.5) == "1.500"
    assert format_value("") == '""'
    assert format_value('say "hi"') == '"say \\"hi\\""'
    assert format_value("a=b") == '"a=b"'
    assert format_value("two\nlines") == '"two\\nlines"'


def test_an_event_without_fields():
    assert parse_line("1.000 WARN backfill_done") == (1.0, "WARN", "backfill_done", {})


def test_other_output_is_not_a_console_line():
    for text in (
        "Traceback (most recent call last):",
        "",
        "code.py output:",
        "1.000 NOTICE boot",
        "abc INFO boot",
        '1.000 INFO boot key="unterminated',
        "1.000 INFO boot novalue",
    ):
        assert parse_line(text) is None


def test_console_stamps_lines_with_uptime():
    lines: list[str] = []
    console = Console(lambda: 65123, lines.append)

    console.info("boot", "fw", "0.1.0", "boot", 3)
    console.warn("backoff", "wait_s", 1.25)
    console.error("reset", "cause", "offline 1800 s")
    console.debug("x")

    assert lines == [
        "65.123 INFO boot fw=0.1.0 boot=3",
        "65.123 WARN backoff wait_s=1.250",
        '65.123 ERROR reset cause="offline 1800 s"',
        "65.123 DEBUG x",
    ]


keys = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)


@given(
    uptime=st.integers(min_value=0, max_value=2**40),
    fields=st.dictionaries(keys, st.text(), max_size=5),
)
def test_any_text_survives_a_round_trip(uptime, fields):
    pairs = tuple(item for pair in fields.items() for item in pair)

    parsed = parse_line(format_line(uptime, "INFO", "event", pairs))

    assert parsed is not None
    assert abs(parsed[0] - uptime / 1000) < 1e-3
    assert parsed[3] == fields
