"""vrl-python as the pipeline's programs meet it: bytes and timestamps reach VRL as Vector's
mqtt source gives them, timestamps come back as datetimes, and abort, run-time and compile
errors are told apart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sensor_bridge.checks.vrl_runtime import Condition, Remap, VrlAborted, VrlError, version


def test_the_pinned_vrl_python_runs() -> None:
    assert version() == "0.1.0"


def test_bytes_that_are_not_utf8_arrive_as_bytes() -> None:
    # The decode program's not_utf8 rule relies on replace() changing only invalid bytes.
    program = Remap(
        ".size = length(string!(.message))\n"
        '.valid = replace(string!(.message), "x", "x") == .message'
    )
    assert program.run({"message": b"\xff\xfeok"}) == {
        "message": "\ufffd\ufffdok",
        "size": 4,
        "valid": False,
    }
    assert program.run({"message": b"ok"})["valid"] is True


def test_timestamps_go_in_and_come_out_as_datetimes() -> None:
    received = datetime(2026, 3, 1, 8, 0, 0, 250_000, tzinfo=UTC)
    program = Remap(
        ".typed = is_timestamp(.timestamp)\n"
        '. = [., {"later": timestamp!(.timestamp), "text": "2026-03-01 08:00:00 UTC"}]'
    )
    (event, other) = program.run({"timestamp": received})
    assert event == {"timestamp": received, "typed": True}
    assert other == {"later": received, "text": "2026-03-01 08:00:00 UTC"}


def test_abort_is_not_a_failure() -> None:
    with pytest.raises(VrlAborted):
        Remap("abort").run({})
    with pytest.raises(VrlError) as failed:
        Remap('.x = parse_json!("{")').run({})
    assert not isinstance(failed.value, VrlAborted)


def test_a_program_that_does_not_compile_fails_at_once() -> None:
    with pytest.raises(VrlError, match="E651"):
        Remap("x = 1 ?? 2")


def test_a_condition_holds_only_when_true() -> None:
    condition = Condition('.channel == "telemetry"')
    assert condition.holds({"channel": "telemetry"})
    assert not condition.holds({"channel": "health"})
    assert not Condition('"yes"').holds({})
