"""Liveness: the board reset under its broker session, without a DISCONNECT, shows as the
retained ``offline`` within the keep-alive bound (the broker gives up after 1.5 keep-alives),
and the board comes back with a new birth."""

from __future__ import annotations

import time

from tests.hil.bench import Bench
from tests.hil.broker_watch import birth, is_offline, readings
from tests.hil.report import Report

MARGIN_S = 3.0
"""Mosquitto checks keep-alives on its own tick; the watcher's own delivery."""
RESET = "import microcontroller\nmicrocontroller.reset()\n"


def test_a_reset_without_disconnect_leaves_offline_within_the_keepalive_bound(
    bench: Bench, report: Report
) -> None:
    boot_before = readings([bench.fresh_reading()], "telemetry")[-1][1]["boot"]
    bound = 1.5 * bench.keepalive_s + MARGIN_S
    mark = bench.watch.mark()
    started = time.monotonic()
    if bench.options.reset_cmd:
        how = "--reset-cmd"
        bench.run_command(bench.options.reset_cmd, "--reset-cmd")
    else:
        # CircuitPython closes the program's sockets when Ctrl-C stops it: the broker sees a
        # connection closed without DISCONNECT, then the reset follows.
        how = "Ctrl-C, then microcontroller.reset() from the raw REPL"
        bench.repl()
        bench.board.exec_raw_leaving(RESET)
    bench.at_repl = False
    offline = bench.watch.wait_for(is_offline, bound + 10, after=mark)
    took = offline.received - started
    retained = bench.watch.retained_status()
    back = bench.birth_after(mark, bench.options.boot_bound_s + bound)
    status = birth(back)

    report.measured("liveness", "reset by", how)
    report.measured("liveness", "offline after", f"{took:.1f} s (bound {bound:g} s)")
    report.measured("liveness", "back online", f"{back.received - started:.1f} s after the reset")
    report.measured("liveness", "new boot's reset reason", status.get("reset_reason"))
    assert took <= bound
    # The retained status is the will, unless the board was already back with its birth.
    assert is_offline(retained) or birth(retained)["boot"] == status["boot"], retained.text
    assert status["boot"] > boot_before
