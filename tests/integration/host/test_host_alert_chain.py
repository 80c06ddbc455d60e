"""The real alert chain: samples → VictoriaMetrics → vmalert on the rendered rules → Alertmanager
on the rendered config → a webhook receiver standing in for Grafana IRM.

A flame out reaches the owner (type=shop) and its all-clear follows; a device reboot reaches
support only; the heartbeat reaches its own URL; a silent device's flame out is inhibited by
its no-data alert. The test site shortens the flame-out hold and Alertmanager's waits; the
rules, routes and inhibitions are rendered from it as from any site.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sensor_bridge.alerting import alerts, promql
from sensor_bridge.local.alertmanager import FAST_PAGING
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.receiver import Notified
from sensor_bridge.local.remote_write import Series, write
from sensor_bridge.local.stack import LocalStack
from sensor_bridge.render import RenderContext, alertmanager
from sensor_bridge.site import Thresholds
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

LIT_V, DARK_V = 3.5, 0.05
SAMPLE_PERIOD_S = 1.0
HISTORY_S = 60
FLAME_OUT_FOR = "5s"
FLAME_OUT_TIMEOUT_S = 30.0
SYSTEM_TIMEOUT_S = 45.0
"""vmalert starts each group after a pseudo-random part of its interval (30 s for system)."""
WATCHED, SILENT = "furnace-1", "glory-hole"


class Furnaces:
    """Writes what the pipeline would, once a second: ``WATCHED`` reports everything (and
    rebooted a while ago); ``SILENT`` no readings (no data), and a dark flame signal once
    ``silent_flame`` is set."""

    def __init__(self, url: str, studio: str) -> None:
        self.url = f"{url}/api/v1/write"
        self.studio = studio
        self.lit = True
        self.silent_flame = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._seq = 0

    def _series(self, at_ms: int, uptime_s: float) -> list[Series]:
        self._seq += 1

        def one(metric: str, device: str, value: float) -> Series:
            labels = {"__name__": metric, "studio": self.studio, "device": device}
            return Series(labels, [(at_ms, value)])

        return [
            one(promql.TEMPERATURE, WATCHED, 1100.0),
            one(promql.FLAME, WATCHED, LIT_V if self.lit else DARK_V),
            one(promql.SEQUENCE, WATCHED, self._seq),
            one(promql.UPTIME, WATCHED, uptime_s),
            *([one(promql.FLAME, SILENT, DARK_V)] if self.silent_flame else []),
        ]

    def history(self) -> None:
        """The last minute; the device rebooted halfway through it."""
        now_ms = int(time.time() * 1000)
        for back in range(HISTORY_S, 0, -1):
            uptime = 5000 + HISTORY_S - back if back > HISTORY_S // 2 else HISTORY_S // 2 - back
            write(self.url, self._series(now_ms - back * 1000, uptime))

    def _run(self) -> None:
        uptime = HISTORY_S // 2
        while not self._stop.wait(SAMPLE_PERIOD_S):
            uptime += 1
            write(self.url, self._series(int(time.time() * 1000), uptime))

    def __enter__(self) -> Furnaces:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _chain_context(tmp_path: Path) -> RenderContext:
    context = example_context(tmp_path / "site")
    site = context.site
    # Queries see samples 1 s old (vmalert's eval delay follows); flame out holds 5 s.
    storage = site.storage.model_copy(update={"latency_offset": "1s"})
    devices = [
        d.model_copy(
            update={
                "thresholds": Thresholds.model_validate(
                    {**d.thresholds.model_dump(), "flame_out_for": FLAME_OUT_FOR}
                )
            }
        )
        for d in site.devices
    ]
    site = site.model_copy(update={"storage": storage, "devices": devices})
    return RenderContext(site, context.secrets)


def _firing_in_vmalert(stack: LocalStack, name: str, device: str) -> bool:
    return any(
        a["name"] == name
        and a["labels"].get(alerts.DEVICE_LABEL) == device
        and a["state"] == "firing"
        for a in stack.firing()
    )


def _has(
    path: str, name: str, device: str | None, status: str = "firing"
) -> Callable[[list[Notified]], bool]:
    def found(notified: list[Notified]) -> bool:
        return any(
            n.path == path
            and n.labels["alertname"] == name
            and n.labels.get(alerts.DEVICE_LABEL) == device
            and n.status == status
            for n in notified
        )

    return found


def test_alerts_reach_their_receivers(tmp_path: Path) -> None:
    # The whole local stack (its broker and pipeline idle): the samples are written as the
    # pipeline writes them, so that the test controls every one.
    with LocalStack(
        _chain_context(tmp_path), tmp_path, paging=FAST_PAGING, defer_rules=True
    ) as stack:
        site, receiver, rules = stack.site, stack.receiver, stack.rules
        furnaces = Furnaces(stack.storage.url, site.studio)
        furnaces.history()
        with furnaces:
            stack.start_rules()
            started = time.monotonic()
            no_data = _has(alertmanager.OWNER, alerts.NO_DATA, SILENT)
            assert receiver.wait_for(no_data, FLAME_OUT_TIMEOUT_S), rules.output()[-3000:]
            # Both flames go out; the silent device's flame out fires in vmalert too.
            furnaces.lit = False
            furnaces.silent_flame = True
            dark_at = time.monotonic()
            flame_out = _has(alertmanager.OWNER, alerts.FLAME_OUT, WATCHED)
            assert receiver.wait_for(flame_out, FLAME_OUT_TIMEOUT_S), rules.output()[-3000:]
            fired = next(
                n
                for n in receiver.notified()
                if n.labels["alertname"] == alerts.FLAME_OUT
                and n.labels[alerts.DEVICE_LABEL] == WATCHED
            )
            wait_until(
                lambda: _firing_in_vmalert(stack, alerts.FLAME_OUT, SILENT),
                FLAME_OUT_TIMEOUT_S,
                f"{alerts.FLAME_OUT} {SILENT} firing in vmalert",
            )
            furnaces.lit = True
            relit_at = time.monotonic()
            all_clear = _has(alertmanager.OWNER, alerts.FLAME_OUT, WATCHED, "resolved")
            assert receiver.wait_for(all_clear, FLAME_OUT_TIMEOUT_S)
            cleared = time.monotonic()
            remaining = SYSTEM_TIMEOUT_S - (time.monotonic() - started)
            for found in (
                _has(alertmanager.HEARTBEAT, alerts.HEARTBEAT, None),
                _has(alertmanager.SUPPORT, alerts.DEVICE_REBOOTED, WATCHED),
            ):
                assert receiver.wait_for(found, remaining), receiver.notified()
    print(
        f"flame out at the receiver {fired.at - dark_at:.1f} s after the first dark sample "
        f"(hold {FLAME_OUT_FOR}); all-clear {cleared - relit_at:.1f} s after relighting"
    )
    assert fired.labels[alerts.TYPE_LABEL] == alerts.SHOP
    assert fired.labels[alerts.STUDIO_LABEL] == site.studio
    notified = receiver.notified()
    # The silent device's flame out is inhibited by its no-data alert.
    assert not [n for n in notified if n.labels["alertname"] == alerts.FLAME_OUT and
                n.labels.get(alerts.DEVICE_LABEL) == SILENT]  # fmt: skip
    expected_type = {alertmanager.OWNER: alerts.SHOP, alertmanager.SUPPORT: alerts.SYSTEM}
    for n in notified:
        if n.path == alertmanager.HEARTBEAT:
            assert n.labels["alertname"] == alerts.HEARTBEAT
        else:
            assert n.labels[alerts.TYPE_LABEL] == expected_type[n.path], n
            assert n.labels["alertname"] != alerts.HEARTBEAT
