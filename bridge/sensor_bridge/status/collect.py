"""Every probe at once, each bounded by the same timeout, assembled into one ``Report``: the
whole run takes about as long as the slowest service, never the sum of them."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sensor_bridge import dataflow
from sensor_bridge.alerting import durations, promql
from sensor_bridge.errors import BridgeError
from sensor_bridge.registry import ALERTMANAGER, MOSQUITTO, SERVICES, VICTORIAMETRICS, VMALERT
from sensor_bridge.site import Device, Site
from sensor_bridge.status import firing, samples, services
from sensor_bridge.status.broker import BrokerFindings
from sensor_bridge.status.report import (
    DOWN,
    NOT_DEPLOYED,
    UP,
    Alerts,
    DeviceStatus,
    FiringAlert,
    Report,
    ServiceStatus,
)
from sensor_bridge.status.services import Ask
from sensor_bridge.status.targets import Endpoints, Logins
from sensor_protocol.fields import unexpected_reset
from sensor_protocol.topics import STATUS, build_topic

DEFAULT_TIMEOUT_S = 0.5
"""Per request. Every service on the Pi answers in milliseconds; one that takes longer is
reported as not answering rather than holding up the screen."""


def collect(
    site: Site,
    endpoints: Endpoints,
    deployed: frozenset[str],
    logins: Logins,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Report:
    started, now = time.monotonic(), time.time()
    topics = {d.id: build_topic(site.topic_root, site.studio, d.id, STATUS) for d in site.devices}
    with ThreadPoolExecutor(max_workers=len(SERVICES) + 3) as pool:
        # Every service, not only those this Pi runs: VictoriaMetrics' line is the store's,
        # asked where it answers (the samples below come from there); ``deployed`` says
        # whether it is this Pi's.
        asked = {
            service.name: pool.submit(
                service.probe.load(),
                Ask(
                    service.name,
                    endpoints.address(service.name),
                    timeout,
                    logins,
                    topics,
                    service.health,
                ),
            )
            for service in SERVICES
        }
        store = samples.store_at(site, endpoints.address(VICTORIAMETRICS.name), timeout)
        found_samples = pool.submit(samples.probe, store, site.studio, now)
        managed = pool.submit(firing.from_alertmanager, endpoints.url(ALERTMANAGER.name), timeout)
        evaluated = pool.submit(firing.from_vmalert, endpoints.url(VMALERT.name), timeout)

        answers = {name: future.result() for name, future in asked.items()}
        by_name = {name: _service(answer) for name, answer in answers.items()}
        statuses = [_placed(status, deployed) for status in by_name.values()]
        vm_up = by_name[VICTORIAMETRICS.name].state == UP
        stored, samples_problem = _samples(found_samples, vm_up)
        alerts = _alerts(managed, evaluated)

    stale_after_s = durations.seconds(site.monit.stale_after)
    # The broker's probe read every device's retained status in the same session.
    broker = answers[MOSQUITTO.name]
    device_statuses = broker.statuses if isinstance(broker, BrokerFindings) else None
    devices = [_device(device, device_statuses, stored, stale_after_s) for device in site.devices]
    return Report(
        studio=site.studio,
        checked_at=now,
        elapsed_s=time.monotonic() - started,
        temperature_unit=site.alerts.temperature_unit,
        stale_after_s=stale_after_s,
        services=tuple(statuses),
        devices=tuple(devices),
        alerts=alerts,
        samples_problem=samples_problem,
        samples_window=samples.WINDOW if stored is not None else None,
    )


def _device(
    device: Device,
    statuses: dict[str, dict[str, Any]] | None,
    stored: samples.Samples | None,
    stale_after_s: float,
) -> DeviceStatus:
    """What the broker (``statuses``: None when not asked) and VictoriaMetrics (``stored``)
    said about ``device``."""
    status = statuses.get(device.id, {}) if statuses is not None else {}
    state = None if statuses is None else str(status.get("state", dataflow.UNKNOWN))
    age = stored.ages.get(device.id) if stored is not None else None
    latest = stored.latest.get(device.id, {}) if stored is not None else {}
    flow = None
    if state is not None and stored is not None:
        flow = dataflow.assess(device.id, state, age, stale_after_s).verdict
    return DeviceStatus(
        id=device.id,
        name=device.name,
        state=state,
        firmware=status.get("fw"),
        board=status.get("board"),
        reset_reason=status.get("reset_reason"),
        unexpected_reset=state == dataflow.ONLINE and unexpected_reset(status),
        last_sample_age_s=age,
        temperature_c=latest.get(promql.TEMPERATURE),
        flame_v=latest.get(promql.FLAME),
        buffer_depth=latest.get(promql.BUFFER),
        flow=flow,
    )


def _service(answer: ServiceStatus | BrokerFindings) -> ServiceStatus:
    return answer.service if isinstance(answer, BrokerFindings) else answer


def _placed(status: ServiceStatus, deployed: frozenset[str]) -> ServiceStatus:
    """A service that does not answer and is not installed here is not a fault."""
    if status.state == DOWN and status.name not in deployed:
        return ServiceStatus(status.name, status.address, NOT_DEPLOYED, detail=status.detail)
    return status


def _samples(
    found: Future[samples.Samples], vm_up: bool
) -> tuple[samples.Samples | None, str | None]:
    try:
        return found.result(), None
    except BridgeError as error:
        # VictoriaMetrics' own line already says it is down; say more only when it is not.
        return None, (str(error) if vm_up else None)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        return None, f"VictoriaMetrics answered the samples query oddly: {error!r}"


def _alerts(
    managed: Future[tuple[FiringAlert, ...]],
    evaluated: Future[tuple[FiringAlert, ...]],
) -> Alerts:
    for source, found in ((firing.ALERTMANAGER, managed), (firing.VMALERT, evaluated)):
        try:
            return Alerts(source, found.result())
        except (services.NoAnswer, firing.Unreadable):
            continue
    return Alerts(None)
