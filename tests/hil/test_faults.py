"""Faults the board shows without touching the furnace: a bad settings.toml value (one console
line, no crash loop, fine again once restored) and, with a person at the bench, an unplugged
thermocouple.

CircuitPython's drive is read-only to code while a computer has it mounted over USB. The
settings case writes settings.toml from the REPL, which needs a bench boot.py that remounts
the drive for code (``storage.remount("/", readonly=False)``; the computer then sees it
read-only), or, without one, through the computer's mount: ``--drive /media/$USER/CIRCUITPY``.
"""

from __future__ import annotations

import re
import time

import pytest

from sensor_bridge.console.lines import parse_line
from sensor_protocol.fields import fault_names
from tests.hil.bench import Bench
from tests.hil.broker_watch import readings
from tests.hil.report import Report
from tests.hil.serial_board import BoardError

BAD_KEY = "SAMPLE_PERIOD_S"
BAD_VALUE = "0"
"""Below the 0.5 s minimum: a value the firmware must refuse."""
CRASH_SIGNS = (
    " INFO boot ",
    " ERROR reset ",
    " ERROR traceback ",
    "code.py output:",
    "soft reboot",
)
READ_ONLY = re.compile(r"Errno 30|Read-only")


def with_setting(text: bytes, key: str, value: str) -> bytes:
    """settings.toml with ``key = value`` in place of the key's line (or added)."""
    line = f"{key} = {value}".encode()
    pattern = re.compile(rb"^[ \t]*" + re.escape(key.encode()) + rb"[ \t]*=.*$", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(line, text, count=1)
    return text.rstrip(b"\n") + b"\n" + line + b"\n"


def _write(bench: Bench, data: bytes) -> None:
    try:
        bench.write_settings_file(data)
    except BoardError as error:
        if READ_ONLY.search(str(error)):
            pytest.fail(
                "CIRCUITPY is read-only to code on this board (the computer has it over USB): "
                "pass --drive with the drive's mount point, or install a bench boot.py that "
                'calls storage.remount("/", readonly=False)',
                pytrace=False,
            )
        raise


def test_a_bad_setting_shows_one_line_and_no_crash_loop(bench: Bench, report: Report) -> None:
    bench.repl()
    original = bench.read_settings_file()
    _write(bench, with_setting(original, BAD_KEY, BAD_VALUE))
    try:
        boot = bench.reboot()
        line, after = bench.board.wait_line(r" ERROR settings ", 15, boot.console_mark)
        time.sleep(bench.options.settle_s)
        following = bench.board.lines(after)
    finally:
        bench.repl()
        _write(bench, original)
    restored = bench.reboot()
    bench.board.wait_line(r" INFO settings_ok ", 15, restored.console_mark)
    bench.birth_after(restored.watch_mark, bench.options.boot_bound_s)

    parsed = parse_line(line)
    assert parsed is not None, line
    fields = parsed[3]
    report.measured("settings", "bad value", f"{BAD_KEY} = {BAD_VALUE}")
    report.measured("settings", "console", line)
    report.measured(
        "settings", "then, for", f"{bench.options.settle_s:g} s: {len(following)} lines"
    )
    assert fields["key"] == BAD_KEY and fields["problem"] and fields["fix"]
    assert not [text for text in following if any(sign in text for sign in CRASH_SIGNS)]
    assert not [text for text in following if " ERROR settings " in text], "printed again"


def _ask(request: pytest.FixtureRequest, question: str) -> None:
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    reporter.write_line("")
    reporter.write_line(f">>> {question}, then press Enter")
    with open("/dev/tty") as terminal:
        terminal.readline()


@pytest.mark.needs(
    "thermocouple unplugged",
    ("manual",),
    "needs a person to unplug the thermocouple: run with --manual",
)
def test_an_unplugged_thermocouple_shows_as_a_fault(
    bench: Bench, report: Report, request: pytest.FixtureRequest
) -> None:
    debounce_s = (3 + 2) * bench.sample_period_s + 10
    _ask(request, "Unplug the thermocouple from the MAX31856")
    mark = bench.watch.mark()
    faulted = bench.watch.wait_for(
        lambda m: any(
            "open_tc" in fault_names(r["faults"]) and r["temp_c"] is None
            for _, r in readings([m], "telemetry")
        ),
        debounce_s,
        after=mark,
    )
    _ask(request, "Plug it back in")
    mark = bench.watch.mark()
    bench.watch.wait_for(
        lambda m: any(
            r["faults"] == 0 and r["temp_c"] is not None for _, r in readings([m], "telemetry")
        ),
        debounce_s,
        after=mark,
    )
    report.measured("thermocouple", "unplugged", readings([faulted], "telemetry")[0][1])
