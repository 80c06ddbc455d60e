"""No reading lost, none doubled, each at its sample time: virtual boards (the real firmware)
→ Mosquitto → pipeline → VictoriaMetrics, counted by device and sequence number, through a
broker restart, a pipeline restart, a VictoriaMetrics restart and an hour offline; and the
rules (vmalert → Alertmanager → receiver) on that hour.

One stack for the module; each scenario has its own device. The offline hour runs in the
background from the start of the module: device ``away`` comes online with its wall clock an
hour behind (its first reading lands an hour in the past), loses the broker, and runs its
clock fast (``CATCH_UP_SPEED``) until it has almost caught up with real time; then it is back
and backfills. To the store and the rules that is a device that went silent an hour ago and
came back. The rules are the rendered ones (no data after 2 minutes); only Alertmanager's
waits are shortened (``FAST_PAGING``) so that the all-clear arrives within seconds."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from sensor_bridge.alerting import alerts, durations, promql
from sensor_bridge.local.alertmanager import FAST_PAGING
from sensor_bridge.local.receiver import Notified
from sensor_bridge.local.stack import LocalStack
from sensor_bridge.render import alertmanager
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_protocol.topics import BACKFILL
from tests.support.recorder import Recorder
from tests.support.waiting import wait_until
from tests.system.chain import (
    announce_pipeline,
    assert_complete,
    board,
    published,
    recorder,
    stored,
    system_context,
    wait_stored,
)

pytestmark = pytest.mark.slow

STEADY, RESTARTED, AWAY = "steady", "restarted", "away"
READINGS_BETWEEN_RESTARTS = 3
OFFLINE_S = 3600
RECONNECT_LAG_S = 60.0
RECONNECT_SPEED = 20.0
"""How far behind real time the offline board's clock is when its network comes back, and
its clock rate then: its reconnect backoff (up to 30 s) and the backfill pass in virtual
seconds, and it still lands behind real time."""
CATCH_UP_SPEED = 120.0
"""The offline board's clock rate while it catches up: an hour in about 30 s."""
AWAY_PERIOD_S = 5
"""The default sample period: an hour offline is 720 readings to backfill."""
FLAME_OUT_AT_S, RELIT_AT_S = 600, 1200
"""Virtual seconds after power-on (inside the outage): the flame goes out for 10 minutes and
the furnace cools far below too_cold_c; relit, it takes a quarter of an hour to climb back."""
OFFLINE = "refuse"
"""The broker out of the board's reach, the LAN answering. Not "down" (Wi-Fi gone): then
the board restarts its radio every 2 minutes, each attempt blocking ~6 s of its 8 s
watchdog, and at catch-up speed a few milliseconds of scheduling delay on this machine end
it (the virtual watchdog fails the run); and after 30 minutes it would reset by design,
losing its RAM buffer (settings.toml, RESET_AFTER_OFFLINE_S)."""
CAUGHT_UP_MARGIN_S = 10.0
"""Normal speed again once the board's clock is this close behind real time: its control
socket answers late while the fast board hogs its process, so aiming closer overshoots."""
ALERT_TIMEOUT_S = 30.0


@dataclass
class Delivery:
    stack: LocalStack
    recorder: Recorder
    boards: dict[str, VirtualBoardProcess]
    away_offline_at_s: float
    """The offline board's uptime when its outage began."""


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delivery]:
    tmp = tmp_path_factory.mktemp("delivery")
    context = system_context(tmp / "site", (STEADY, RESTARTED, AWAY))
    with contextlib.ExitStack() as running:
        stack = running.enter_context(
            LocalStack(context, tmp / "stack", paging=FAST_PAGING, defer_rules=True)
        )
        rec = running.enter_context(recorder(stack))
        away = running.enter_context(
            board(
                stack,
                AWAY,
                tmp / "boards",
                epoch=time.time() - OFFLINE_S - RECONNECT_LAG_S,
                SAMPLE_PERIOD_S=AWAY_PERIOD_S,
                scenario=[
                    {"at_s": FLAME_OUT_AT_S, "cmd": "furnace", "flame": "out"},
                    {"at_s": RELIT_AT_S, "cmd": "furnace", "flame": "lit"},
                ],
            )
        )
        rec.wait_for(lambda m: m.topic.endswith(f"/{AWAY}/telemetry"), 30)
        away.control.send({"cmd": "net", "state": OFFLINE})
        away.control.send({"cmd": "speed", "value": CATCH_UP_SPEED})
        offline_at_s = away.status()["uptime_s"]
        boards = {AWAY: away}
        for device in (STEADY, RESTARTED):
            boards[device] = running.enter_context(board(stack, device, tmp / "boards"))
        for device in (STEADY, RESTARTED):
            wait_stored(stack, device, 1, 30)
        # The rules start on a store that has the present devices' readings (as a Pi's
        # vmalert starts on its history); device away has none for an hour.
        stack.start_rules()
        yield Delivery(stack, rec, boards, offline_at_s)


def test_every_reading_published_is_stored_once_at_its_sample_time(
    delivery: Delivery, capsys: pytest.CaptureFixture[str]
) -> None:
    announce_pipeline(delivery.stack, capsys)
    wait_stored(delivery.stack, STEADY, 10, 30)
    delivery.boards[STEADY].stop()
    count = assert_complete(delivery.stack, delivery.recorder, STEADY)
    assert count >= 10


def test_broker_pipeline_and_storage_restarts_lose_and_double_nothing(
    delivery: Delivery, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = delivery.stack
    announce_pipeline(stack, capsys)

    def readings_go_on() -> None:
        count = len(stored(stack, RESTARTED))
        wait_stored(stack, RESTARTED, count + READINGS_BETWEEN_RESTARTS, 30)

    readings_go_on()
    stack.restart_broker()
    readings_go_on()
    stack.restart_pipeline()
    readings_go_on()
    # Stopped while readings keep coming (a restart between two readings would prove
    # nothing): what the pipeline could not write waits, as in Vector's disk buffer.
    stack.storage.stop()
    heard = len(published(delivery.recorder, RESTARTED))
    wait_until(
        lambda: len(published(delivery.recorder, RESTARTED)) >= heard + 2,
        10,
        "readings while the store is down",
    )
    stack.storage.start()
    readings_go_on()
    delivery.boards[RESTARTED].stop()
    assert_complete(stack, delivery.recorder, RESTARTED)


def test_an_hour_offline_backfills_completely_and_no_data_fires_then_resolves(
    delivery: Delivery, capsys: pytest.CaptureFixture[str]
) -> None:
    stack, away = delivery.stack, delivery.boards[AWAY]
    announce_pipeline(stack, capsys)
    receiver = stack.receiver

    def no_data(status: str) -> Callable[[list[Notified]], bool]:
        def found(notified: list[Notified]) -> bool:
            return any(
                n.path == alertmanager.OWNER
                and n.labels["alertname"] == alerts.NO_DATA
                and n.labels.get(alerts.DEVICE_LABEL) == AWAY
                and n.status == status
                for n in notified
            )

        return found

    assert receiver.wait_for(no_data("firing"), ALERT_TIMEOUT_S), receiver.notified()
    # Back online while still fast; normal speed once its clock is just behind real time.
    _catch_up(away, RECONNECT_LAG_S, CATCH_UP_SPEED)
    away.control.send({"cmd": "speed", "value": RECONNECT_SPEED})
    back = away.status()
    mark = away.mark()
    away.control.send({"cmd": "net", "state": "up"})
    away.wait_for(r" INFO backfill_done ", 30, since=mark)
    _catch_up(away, CAUGHT_UP_MARGIN_S, RECONNECT_SPEED)
    away.control.send({"cmd": "speed", "value": 1.0})
    assert away.status()["wall_s"] <= time.time()
    assert receiver.wait_for(no_data("resolved"), ALERT_TIMEOUT_S), receiver.notified()
    status = away.status()
    away.stop()

    count = assert_complete(stack, delivery.recorder, AWAY)
    assert back["uptime_s"] - delivery.away_offline_at_s >= OFFLINE_S
    backfilled = published(delivery.recorder, AWAY, BACKFILL)
    assert len(backfilled) >= OFFLINE_S // AWAY_PERIOD_S
    assert count > len(backfilled)
    assert status["watchdog"]["max_gap_s"] < status["watchdog"]["timeout"]
    # The history held a flame out and then, relit, a furnace too cold with its flame lit,
    # each for longer than its hold: live, both would have paged. From the backfill, neither
    # was ever pending in vmalert (its ALERTS series) nor sent.
    thresholds = stack.site.device(AWAY).thresholds
    flame = _by_time(stack, promql.FLAME)
    temperature = _by_time(stack, promql.TEMPERATURE)
    dark = sorted(at for at, volts in flame.items() if volts < thresholds.flame_min_v)
    relit_and_cold = sorted(
        at
        for at, celsius in temperature.items()
        if at > dark[-1]
        and celsius < thresholds.too_cold_c
        and flame.get(at, 0.0) >= thresholds.flame_min_v
    )
    # At catch-up speed the board's loop takes virtual seconds: allow a few periods.
    slack_ms = 3 * AWAY_PERIOD_S * 1000
    assert dark[-1] - dark[0] >= (RELIT_AT_S - FLAME_OUT_AT_S) * 1000 - slack_ms
    assert (
        relit_and_cold[-1] - relit_and_cold[0] > durations.seconds(thresholds.too_cold_for) * 1000
    )
    silenced = f"{alerts.FLAME_OUT}|{alerts.FURNACE_TOO_COLD}"
    assert stack.storage.export(f'ALERTS{{device="{AWAY}",alertname=~"{silenced}"}}') == []
    assert [
        n
        for n in receiver.notified()
        if n.labels.get(alerts.DEVICE_LABEL) == AWAY
        and n.labels["alertname"] in (alerts.FLAME_OUT, alerts.FURNACE_TOO_COLD)
    ] == []
    # The ALERTS series exist: vmalert wrote the no-data alert the same way.
    assert stack.storage.export(f'ALERTS{{device="{AWAY}",alertname="{alerts.NO_DATA}"}}')


def _by_time(stack: LocalStack, metric: str) -> dict[int, float]:
    stack.storage.flush()
    return {
        at: value
        for series in stack.storage.export(f'{metric}{{device="{AWAY}"}}')
        for at, value in zip(series["timestamps"], series["values"], strict=True)
    }


def _catch_up(away: VirtualBoardProcess, lag_s: float, speed: float) -> None:
    """Until the offline board's wall clock is at most ``lag_s`` behind real time (sleeping
    for the predicted rest, so as not to overshoot at catch-up speed)."""
    deadline = time.monotonic() + (OFFLINE_S + RECONNECT_LAG_S) / (CATCH_UP_SPEED - 1) + 30
    while (behind := time.time() - away.status()["wall_s"]) > lag_s:
        assert time.monotonic() < deadline, f"the offline board is still {behind:.0f} s behind"
        time.sleep(min(1.0, (behind - lag_s) / (speed - 1)))
