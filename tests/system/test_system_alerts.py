"""Alerts through the whole chain: virtual boards (the real firmware) → Mosquitto → pipeline →
VictoriaMetrics → vmalert on the rendered rules → Alertmanager on the rendered routes → a
receiver standing in for Grafana IRM.

The rules run on the site's rendered timings (queries 5 s behind, a 5 s shop group, flame out
held 10 s, a fault held 30 s); only Alertmanager's waits are shortened (``FAST_PAGING``), and
the flame-out device samples at the default 5 s. Three devices, three events at about the
same time: a flame goes out, a thermocouple opens, a board browns out and comes back through
safe mode; each test waits for its own outcome.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sensor_bridge.alerting import alerts, durations, promql, rules
from sensor_bridge.local.alertmanager import FAST_PAGING
from sensor_bridge.local.receiver import Notified
from sensor_bridge.local.stack import LocalStack
from sensor_bridge.render import alertmanager
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_protocol.payloads import decode_readings
from tests.support.recorder import Recorder
from tests.support.waiting import wait_until
from tests.system.chain import (
    BOARD,
    announce_pipeline,
    board,
    recorder,
    start_rules_once_seen,
    system_context,
)

pytestmark = pytest.mark.slow

FLAME, FAULTY, REBOOTED = "flame", "faulty", "rebooted"
FLAME_PERIOD_S = 5
"""The default sample period: the latency goal is stated for it."""
FLAME_OUT_GOAL_S = 20.0
"""From the first dark reading to the owner's page (alerting.rules: within 20 s)."""
WORKING_TEMPERATURE_C = 1100.0
"""Where the furnaces start, well inside every threshold of the site, day or night."""
FAULT_TIMEOUT_S = 60.0
"""The fault is held 30 s (alerting.rules.FAULT_HOLD) after 3 debounced readings, seen 5 s
late, in a group evaluated every 5 s."""
BACK_TIMEOUT_S = 60.0
"""From the power cut to the birth after it: the safe mode's 5 s hold, two boots, Wi-Fi and
MQTT, on a loaded machine."""
REBOOT_MARGIN_S = 20.0
"""Alertmanager's group_wait and room for a loaded machine, past ``_reboot_timeout``'s chain."""
HEALTH_PERIOD_S = 10
"""The shortest: a reboot shows as the uptime in the health reports going down."""
BEFORE_SPEED = 10.0
BEFORE_S = 30.0
"""How far back the rebooted board's clock starts: its fast run before the brown-out ends
behind real time."""
TEMPERATURE_ALERTS = (alerts.FURNACE_TOO_HOT, alerts.FURNACE_TOO_COLD)


@dataclass
class Events:
    stack: LocalStack
    recorder: Recorder


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Events]:
    tmp = tmp_path_factory.mktemp("alerts")
    context = system_context(tmp / "site", (FLAME, FAULTY, REBOOTED))
    with contextlib.ExitStack() as running:
        stack = running.enter_context(
            LocalStack(context, tmp / "stack", paging=FAST_PAGING, defer_rules=True)
        )
        rec = running.enter_context(recorder(stack))
        flame = running.enter_context(
            board(stack, FLAME, tmp / "boards", SAMPLE_PERIOD_S=FLAME_PERIOD_S)
        )
        faulty = running.enter_context(board(stack, FAULTY, tmp / "boards"))
        for process in (flame, faulty):
            process.control.send({"cmd": "furnace", "temp_c": WORKING_TEMPERATURE_C})
        # Opened at once: its alert waits out a 30 s hold, the longest wait here.
        faulty.control.send({"cmd": "fault", "name": "open_tc"})
        running.enter_context(_browned_out(stack, tmp / "boards"))
        start_rules_once_seen(stack, (FLAME, FAULTY, REBOOTED))
        flame.control.send({"cmd": "furnace", "flame": "out"})
        yield Events(stack, rec)


@contextlib.contextmanager
def _browned_out(stack: LocalStack, workdir: Path) -> Iterator[VirtualBoardProcess]:
    """Device ``REBOOTED`` after a brown-out: it ran (its health said so twice), lost power,
    and came back through safe mode, which resets it (an unplanned boot, its birth says).
    Not the reset pin: a reboot someone asked for pages nobody (alerting.rules).

    The rules see a reboot as the uptime of the health reports going down; they count whole
    seconds from the last boot, so the report before must be a later one than the first after.

    The run before the brown-out is fast-forwarded, its clock set back so that it ends just
    behind real time; the board comes back at normal speed on real time."""
    before = board(
        stack,
        REBOOTED,
        workdir,
        speed=BEFORE_SPEED,
        epoch=time.time() - BEFORE_S,
        HEALTH_PERIOD_S=HEALTH_PERIOD_S,
    )
    with before:
        wait_until(
            lambda: max(_uptimes(stack), default=0) >= 2 * HEALTH_PERIOD_S,
            BEFORE_S,
            "two health reports before the brown-out",
        )
        before.kill()
    with VirtualBoardProcess(
        before.drive, board=BOARD, extra_args=["--safe-mode", "BROWNOUT"]
    ) as after:
        # Back before the rules start, as the other two events are: its old readings alone
        # would let them start while it is still in safe mode.
        wait_until(lambda: _back(stack), BACK_TIMEOUT_S, "the birth after the brown-out")
        yield after


def _uptimes(stack: LocalStack) -> list[float]:
    stack.storage.flush()
    selector = f'{promql.UPTIME}{{device="{REBOOTED}"}}'
    return [v for series in stack.storage.export(selector) for v in series["values"]]


def _reboot_timeout(stack: LocalStack) -> float:
    """How long after the rules start support may hear of the reboot. The birth after it is
    stored before they start (``_browned_out``), but the system group runs every
    ``SYSTEM_INTERVAL`` (30 s) on a query time ``latency_offset`` (5 s) back and rounded down
    to the interval (vmalert's alignment): an evaluation sees the birth at most 5 + 30 s after
    it, and that evaluation comes at most 30 s later."""
    return (
        durations.seconds(stack.site.storage.latency_offset)
        + 2 * durations.seconds(rules.SYSTEM_INTERVAL)
        + REBOOT_MARGIN_S
    )


def _back(stack: LocalStack) -> bool:
    """``REBOOTED``'s birth after the brown-out is stored: it says the boot was unplanned."""
    stack.storage.flush()
    selector = f'{promql.UNEXPECTED_RESET}{{device="{REBOOTED}"}}'
    return any(v == 1 for series in stack.storage.export(selector) for v in series["values"])


def _sent(path: str, name: str, device: str) -> Callable[[list[Notified]], bool]:
    def found(notified: list[Notified]) -> bool:
        return any(
            n.path == path
            and n.labels["alertname"] == name
            and n.labels.get(alerts.DEVICE_LABEL) == device
            and n.status == "firing"
            for n in notified
        )

    return found


def _ever_active(stack: LocalStack, device: str, names: tuple[str, ...]) -> list[str]:
    """The alerts of ``names`` vmalert ever had pending or firing for ``device`` (its ALERTS
    series in VictoriaMetrics)."""
    stack.storage.flush()
    pattern = "|".join(names)
    series = stack.storage.export(f'ALERTS{{device="{device}",alertname=~"{pattern}"}}')
    return [s["metric"]["alertname"] for s in series]


def test_a_flame_out_pages_the_owner_within_the_latency_goal(
    events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = events.stack
    announce_pipeline(stack, capsys)
    min_v = stack.site.device(FLAME).thresholds.flame_min_v
    first_dark = events.recorder.wait_for(
        lambda m: (
            m.topic.endswith(f"/{FLAME}/telemetry")
            and any(r["flame_v"] < min_v for r in decode_readings(m.payload)["readings"])
        ),
        2 * FLAME_PERIOD_S + 5,
    )
    page = _sent(alertmanager.OWNER, alerts.FLAME_OUT, FLAME)
    assert stack.receiver.wait_for(page, FLAME_OUT_GOAL_S + 10), stack.receiver.notified()
    # Receive times are monotonic; the recorder's are wall clock.
    paged_at = next(n.at for n in stack.receiver.notified() if page([n])) + (
        time.time() - time.monotonic()
    )
    latency = paged_at - first_dark.received
    with capsys.disabled():
        print(f"[flame out → owner: {latency:.1f} s after the first dark reading]", end=" ")
    assert latency <= FLAME_OUT_GOAL_S
    assert not _sent(alertmanager.SUPPORT, alerts.FLAME_OUT, FLAME)(stack.receiver.notified())


def test_an_open_thermocouple_is_a_fault_alert_and_no_temperature_alert(
    events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = events.stack
    announce_pipeline(stack, capsys)
    fault = _sent(alertmanager.OWNER, alerts.THERMOCOUPLE_FAULT, FAULTY)
    assert stack.receiver.wait_for(fault, FAULT_TIMEOUT_S), stack.receiver.notified()
    (notified,) = [n for n in stack.receiver.notified() if fault([n])]
    assert notified.labels["fault"] == "open_tc"
    assert _ever_active(stack, FAULTY, TEMPERATURE_ALERTS) == []
    assert [
        n
        for n in stack.receiver.notified()
        if n.labels.get(alerts.DEVICE_LABEL) == FAULTY
        and n.labels["alertname"] in TEMPERATURE_ALERTS
    ] == []


def test_support_alerts_go_to_support_only(
    events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = events.stack
    announce_pipeline(stack, capsys)
    rebooted = _sent(alertmanager.SUPPORT, alerts.DEVICE_REBOOTED, REBOOTED)
    assert stack.receiver.wait_for(rebooted, _reboot_timeout(stack)), stack.receiver.notified()
    expected = {alertmanager.OWNER: alerts.SHOP, alertmanager.SUPPORT: alerts.SYSTEM}
    notified = stack.receiver.notified()
    for n in notified:
        if n.path != alertmanager.HEARTBEAT:
            assert n.labels[alerts.TYPE_LABEL] == expected[n.path], n
    assert not [
        n
        for n in notified
        if n.path == alertmanager.OWNER and n.labels["alertname"] == alerts.DEVICE_REBOOTED
    ]
    # Nothing else paged the owner: the three events' shop alerts are all it heard.
    assert {
        (n.labels["alertname"], n.labels.get(alerts.DEVICE_LABEL))
        for n in notified
        if n.path == alertmanager.OWNER
    } <= {(alerts.FLAME_OUT, FLAME), (alerts.THERMOCOUPLE_FAULT, FAULTY)}
