"""Every probe at once, each bounded by the same timeout, assembled into one ``Report``: the
whole run takes about as long as the slowest service, never the sum of them."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sensor_bridge import dataflow
from sensor_bridge.alerting import durations
from sensor_bridge.errors import BridgeError
from sensor_bridge.site import Device, Site
from sensor_bridge.status import broker, firing, samples, services
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
from sensor_bridge.status.targets import (
    ALERTMANAGER,
    ALLOY,
    MONIT,
    MOSQUITTO,
    SERVICES,
    VECTOR,
    VICTORIAMETRICS,
    VMALERT,
    Endpoints,
    Logins,
)
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
        at = endpoints.address
        found_broker = pool.submit(
            broker.probe, MOSQUITTO, at(MOSQUITTO), logins.broker, logins.missing, topics, timeout
        )
        probes = {
            VICTORIAMETRICS: pool.submit(
                services.victoriametrics, VICTORIAMETRICS, at(VICTORIAMETRICS), timeout
            ),
            VMALERT: pool.submit(services.victoriametrics, VMALERT, at(VMALERT), timeout),
            ALERTMANAGER: pool.submit(
                services.alertmanager, ALERTMANAGER, at(ALERTMANAGER), timeout
            ),
            VECTOR: pool.submit(services.vector, VECTOR, at(VECTOR), timeout),
            ALLOY: pool.submit(services.alloy, ALLOY, at(ALLOY), timeout),
            MONIT: pool.submit(
                services.monit, MONIT, at(MONIT), logins.monit, logins.missing, timeout
            ),
        }
        found_samples = pool.submit(
            samples.probe, endpoints.url(VICTORIAMETRICS), site.studio, now, timeout
        )
        managed = pool.submit(firing.from_alertmanager, endpoints.url(ALERTMANAGER), timeout)
        evaluated = pool.submit(firing.from_vmalert, endpoints.url(VMALERT), timeout)

        broker_findings = found_broker.result()
        by_name = {MOSQUITTO: broker_findings.service}
        by_name |= {name: future.result() for name, future in probes.items()}
        statuses = [_placed(by_name[name], deployed) for name in SERVICES]
        vm_up = by_name[VICTORIAMETRICS].state == UP
        stored, samples_problem = _samples(found_samples, vm_up)
        alerts = _alerts(managed, evaluated)

    stale_after_s = durations.seconds(site.monit.stale_after)
    devices = [
        _device(device, broker_findings.statuses, stored, stale_after_s) for device in site.devices
    ]
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
        temperature_c=latest.get(samples.TEMPERATURE),
        flame_v=latest.get(samples.FLAME),
        buffer_depth=latest.get(samples.BUFFER),
        flow=flow,
    )


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
