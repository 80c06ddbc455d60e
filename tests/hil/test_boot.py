"""Boot: a soft reboot shows CircuitPython's banner and the firmware's version and board id
on the console, and the retained birth reaches the broker within a bound."""

from __future__ import annotations

from sensor_bridge.console.lines import parse_line
from tests.hil.bench import Bench, Boot
from tests.hil.broker_watch import birth
from tests.hil.report import Report


def test_soft_reboot_shows_the_banner_then_a_retained_birth(
    bench: Bench, first_boot: Boot, report: Report
) -> None:
    banner = first_boot.banner
    assert banner[0] == "soft reboot", banner
    assert any(line.startswith("Auto-reload is") for line in banner), banner
    assert banner[-1] == "code.py output:", banner
    parsed = parse_line(first_boot.boot_line)
    assert parsed is not None, first_boot.boot_line
    fields = parsed[3]
    assert fields["fw"] == bench.facts["fw"]
    assert fields["board"] == bench.facts["board"]

    bound = bench.options.boot_bound_s
    message = bench.birth_after(first_boot.watch_mark, bound)
    took = message.received - first_boot.started
    status = birth(message)
    assert status["state"] == "online"
    assert (status["fw"], status["board"]) == (fields["fw"], fields["board"])
    retained = bench.watch.retained_status()
    assert retained.retain, "the birth is not retained"
    assert birth(retained)["boot"] == status["boot"]
    assert took <= bound

    report.measured("boot", "CircuitPython", bench.version_banner or "(no banner seen)")
    report.measured("boot", "firmware", f"{fields['fw']} on {fields['board']}")
    report.measured("boot", "reset reason", fields.get("reset_reason", "-"))
    report.measured("boot", "soft reboot to retained birth", f"{took:.1f} s (bound {bound:g} s)")
