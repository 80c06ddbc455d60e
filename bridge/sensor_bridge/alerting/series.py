"""What the rules' unit tests (vmalert-tool's format) are built from: a case's series and the
checks of what must (not) be firing when, the expected alerts as the rules write them, the site's
times of day, and the devices and host in their normal state. ``cases`` builds the cases from
these; ``runner`` writes them to files and runs vmalert-tool.

vmalert-tool starts every series at time 0 (1970-01-01 00:00 UTC) and evaluates every group each
``evaluation_interval`` from there, so each case starts at a time of day when the device works
(or idles) under the site's schedule, in the site's time zone. It queries with no evaluation
delay: a real vmalert sees each sample ``storage.latency_offset`` later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sensor_bridge.alerting import alerts, durations, promql, rules
from sensor_bridge.registry import VICTORIAMETRICS
from sensor_bridge.site import Device, Site
from sensor_protocol.fields import FAULT_BITS

FAST_STEP_S = 5
"""The device's sample period: cases where seconds count sample and evaluate at it."""
STEP_S = 30
"""The device's sample period, and the evaluation interval of the cases."""
DAY_STEP_S = 60
"""The 24-hour firing is evaluated every minute: 1440 evaluations, not 17280."""
DAY_S = 86400
SLOW_STEP_S = 60
"""Cases that start hours into the day (working hours after a night's idle) sample and are
evaluated every minute: vmalert-tool evaluates every rule at every step from time 0."""
SLOW_AFTER_S = 3 * 3600
LEAD_S = 300
"""Normal readings before each case's event: every window is full of them."""

Values = list[float | None]
"""One value per step of its case from time 0; None is a missing sample."""


def _number(value: float) -> str:
    """Positional notation: vmalert-tool reads no exponents."""
    if value == int(value):
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def encode(values: Values) -> str:
    """vmalert-tool's values notation; a run of values with one step is ``a+bxN`` (N+1 values)."""
    parts: list[str] = []
    index = 0
    while index < len(values):
        value = values[index]
        if value is None:
            run = 1
            while index + run < len(values) and values[index + run] is None:
                run += 1
            parts.append(" ".join(["_"] * run))
            index += run
            continue
        step = _step(values, index)
        run = 1
        while index + run < len(values) and step is not None:
            following = values[index + run]
            if following is None or following != value + step * run:
                break
            run += 1
        if run == 1:
            parts.append(_number(value))
        else:
            sign = "+" if step is None or step >= 0 else "-"
            parts.append(f"{_number(value)}{sign}{_number(abs(step or 0))}x{run - 1}")
        index += run
    return " ".join(parts)


def _step(values: Values, index: int) -> float | None:
    """The difference to the next value, when both exist and it is exact (integers)."""
    if index + 1 >= len(values):
        return None
    here, after = values[index], values[index + 1]
    if here is None or after is None:
        return None
    step = after - here
    return step if step == int(step) else None


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


@dataclass
class Case:
    """One vmalert-tool test: its series and what must (not) be firing when."""

    name: str
    length_s: int
    step_s: int = STEP_S
    series: dict[str, Values] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    exprs: list[dict[str, Any]] = field(default_factory=list)

    def steps(self) -> int:
        return self.length_s // self.step_s + 1

    def put(self, name: str, labels: dict[str, str], values: Values) -> None:
        self.series[name + _labels(labels)] = values

    def constant(self, name: str, labels: dict[str, str], value: float) -> None:
        self.put(name, labels, [value] * self.steps())

    def test(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "interval": f"{self.step_s}s",
            "input_series": [
                {"series": series, "values": encode(values)}
                for series, values in self.series.items()
            ],
            "alert_rule_test": self.checks,
            **({"metricsql_expr_test": self.exprs} if self.exprs else {}),
        }


class Expect:
    """Expected alerts, with the labels and annotations the rules give them."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.rules = [
            (group["name"], rule)
            for group in rules.rules(site)["groups"]
            for rule in group["rules"]
        ]

    def alert(
        self,
        name: str,
        *,
        device: Device | None = None,
        idle: bool = False,
        value: float = 0.0,
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One expected alert of rule ``name`` (the idle variant if ``idle``)."""
        group, rule = self._find(name, device, idle, labels or {})
        extra = labels or {}
        exp_labels = {**rule["labels"], **extra}
        # Device series carry it; vmalert adds it to every alert (-external.label).
        exp_labels[alerts.STUDIO_LABEL] = self.site.studio
        context = {**exp_labels}
        annotations = {
            key: _fill(text, value, context) for key, text in rule["annotations"].items()
        }
        return {"group": group, "labels": exp_labels, "annotations": annotations}

    def group(self, name: str) -> str:
        return next(group for group, rule in self.rules if rule["alert"] == name)

    def _find(
        self, name: str, device: Device | None, idle: bool, labels: dict[str, str]
    ) -> tuple[str, dict[str, Any]]:
        matches = [
            (group, rule)
            for group, rule in self.rules
            if rule["alert"] == name
            and (device is None or rule["labels"].get(alerts.DEVICE_LABEL) == device.id)
            and all(rule["labels"].get(k, v) == v for k, v in labels.items())
        ]
        if idle:
            matches = [m for m in matches if ") and on() (" in m[1]["expr"]]
        else:
            matches = [m for m in matches if ") and on() (" not in m[1]["expr"]]
        return matches[0]


def _fill(text: str, value: float, labels: dict[str, str]) -> str:
    """The annotation as vmalert's templates render it, for the forms the rules use."""
    text = re.sub(r'\{\{ printf "%\.(\d)f" \$value \}\}', lambda m: f"{value:.{int(m[1])}f}", text)
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m[1], ""), text)


def rule_check(
    at_s: int, name: str, group: str, firing: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "eval_time": f"{at_s}s",
        "groupname": group,
        "alertname": name,
        "exp_alerts": [
            {"exp_labels": alert["labels"], "exp_annotations": alert["annotations"]}
            for alert in firing
        ],
    }


# --- the site's times ------------------------------------------------------------------------


def _utc_offset_s(site: Site) -> int:
    """The site's UTC offset on 1970-01-01, the day vmalert-tool's series live on."""
    offset = datetime(1970, 1, 1, 12, tzinfo=UTC).astimezone(ZoneInfo(site.alerts.timezone))
    delta = offset.utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def event_time(site: Site, device: Device, *, idle: bool, length_s: int) -> int:
    """The first time (s from 0, after LEAD_S of history) from which ``device`` works (or
    idles) for ``length_s``, lead included: cases end before the next schedule change."""
    for moment in range(LEAD_S, 2 * DAY_S, 300):
        span = range(moment - LEAD_S, moment + length_s + 1, 60)
        if all(is_idle(site, device, at) == idle for at in span):
            return moment
    raise ValueError(f"{device.id}: no {length_s} s of {'idle' if idle else 'working'} time")


def is_idle(site: Site, device: Device, at_s: int) -> bool:
    schedule = device.thresholds.idle
    if schedule is None:
        return False
    local = (at_s + _utc_offset_s(site)) % DAY_S
    start, end = durations.clock_seconds(schedule.start), durations.clock_seconds(schedule.end)
    return start <= local < end if start < end else local >= start or local < end


# --- series ----------------------------------------------------------------------------------


def device_labels(site: Site, device: Device) -> dict[str, str]:
    return {alerts.STUDIO_LABEL: site.studio, alerts.DEVICE_LABEL: device.id}


def normal_temperature(site: Site, device: Device, idle: bool) -> float:
    """Where the furnace is set: the middle of its range for the time of day."""
    thresholds = device.thresholds
    if idle and thresholds.idle is not None:
        low = thresholds.idle.too_cold_c
        high = thresholds.idle.too_hot_c
        return (low + high) / 2 if low is not None else high - 150
    return (thresholds.too_cold_c + thresholds.too_hot_c) / 2


def steady_device(case: Case, site: Site, device: Device) -> None:
    """A lit, steady furnace and a healthy node, the whole case long."""
    labels = device_labels(site, device)
    steps = case.steps()
    case.put(
        promql.TEMPERATURE,
        labels,
        [
            normal_temperature(site, device, is_idle(site, device, i * case.step_s))
            for i in range(steps)
        ],
    )
    case.constant(promql.FLAME, labels, 3.5)
    case.put(promql.SEQUENCE, labels, [float(i) for i in range(steps)])
    case.put(promql.UPTIME, labels, [float(600 + i * case.step_s) for i in range(steps)])
    case.constant(promql.DROPS, labels, 0)
    case.constant(promql.CLOCK_VALID, labels, 1)
    for fault, _ in FAULT_BITS:
        case.constant(promql.FAULT, {**labels, "fault": fault}, 0)
    online = {**labels, "device_name": device.name} if device.name else labels
    case.put(promql.ONLINE, online, [1.0] + [None] * (steps - 1))


IGNORED_LABELS = {"job": VICTORIAMETRICS.name, "instance": "127.0.0.1", "reason": "big_timestamp"}


def healthy_host(case: Case, site: Site) -> None:
    """Every service up and the Pi comfortable."""
    for service in rules.scraped(site):
        case.constant("up", {"job": service.name, "instance": "127.0.0.1"}, 1)
    disk = {"mountpoint": "/", "fstype": "ext4", "device": "/dev/mmcblk0p2"}
    case.constant("node_filesystem_avail_bytes", disk, 20e9)
    case.constant("node_filesystem_size_bytes", disk, 60e9)
    case.constant("node_thermal_zone_temp", {"zone": "0", "type": "cpu-thermal"}, 55)
    case.constant("node_memory_MemAvailable_bytes", {}, 3e9)
    case.constant("node_memory_MemTotal_bytes", {}, 4e9)
    case.constant(promql.DEAD_LETTERS, {"studio": site.studio, "reason": "not_json"}, 0)
    case.constant(promql.ROWS_IGNORED, IGNORED_LABELS, 0)


def normal_case(name: str, site: Site, length_s: int, step_s: int = STEP_S) -> Case:
    case = Case(name, length_s, step_s)
    for device in site.devices:
        steady_device(case, site, device)
    healthy_host(case, site)
    return case


def values_from(case: Case, at_s: int, value: float | None, values: Values) -> Values:
    """``values`` with ``value`` from ``at_s`` on."""
    index = at_s // case.step_s
    return values[:index] + [value] * (len(values) - index)


def values_between(case: Case, start: int, end: int, value: float | None, values: Values) -> Values:
    first, last = start // case.step_s, end // case.step_s
    return values[:first] + [value] * (last - first) + values[last:]


def series_key(name: str, labels: dict[str, str]) -> str:
    return name + _labels(labels)


def change(case: Case, name: str, labels: dict[str, str], edit: Callable[[Values], Values]) -> None:
    key = series_key(name, labels)
    case.series[key] = edit(case.series[key])


def set_from(case: Case, name: str, labels: dict[str, str], at_s: int, value: float | None) -> None:
    """Series ``name{labels}`` of ``case`` reads ``value`` from ``at_s`` on."""
    key = series_key(name, labels)
    case.series[key] = values_from(case, at_s, value, case.series[key])


def set_between(
    case: Case, name: str, labels: dict[str, str], *, start: int, end: int, value: float | None
) -> None:
    """Series ``name{labels}`` of ``case`` reads ``value`` from ``start`` until ``end``."""
    key = series_key(name, labels)
    case.series[key] = values_between(case, start, end, value, case.series[key])
