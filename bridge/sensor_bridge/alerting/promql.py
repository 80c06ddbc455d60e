"""What the rules' expressions are built from: the series they read, named from the contract's
field table, and the pieces every rule (and the dashboards) writes alike.

Series selectors match ``studio`` and ``device`` exactly: ``absent_over_time`` then returns
both labels.
"""

from __future__ import annotations

from sensor_bridge.alerting import dead_letters, durations, units
from sensor_bridge.site import Device, Site
from sensor_protocol.fields import (
    CONTRACT_METRICS,
    METRIC_NAMESPACE,
    field_by_key,
    full_metric_name,
)

TEMPERATURE = full_metric_name(field_by_key("temp_c"))
FLAME = full_metric_name(field_by_key("flame_v"))
COLD_JUNCTION = full_metric_name(field_by_key("cj_c"))
BUFFER = full_metric_name(field_by_key("buffer_depth"))
SEQUENCE = full_metric_name(field_by_key("seq"))
FAULT = full_metric_name(field_by_key("faults"))
UPTIME = full_metric_name(field_by_key("uptime_s"))
DROPS = full_metric_name(field_by_key("buffer_drops"))
CLOCK_VALID = full_metric_name(field_by_key("clock_valid"))
ONLINE, UNEXPECTED_RESET = (f"{METRIC_NAMESPACE}_{name}" for name in CONTRACT_METRICS)
"""Written by the pipeline from the status channel: 1/0 on each retained status; on each birth,
1 when the boot was not a planned one (``sensor_protocol.fields.unexpected_reset``), else 0."""
DEAD_LETTERS = dead_letters.METRIC
ROWS_IGNORED = "vm_rows_ignored_total"
"""VictoriaMetrics' own counter of samples it accepted on the wire and did not store, by
``reason`` (big_timestamp, small_timestamp, ...): nothing else counts them."""


def number(value: float) -> str:
    return f"{value:g}"


def matchers(site: Site, device: str | None = None) -> str:
    """The label matchers of the site's series (and of one device's)."""
    studio = f'studio="{site.studio}"'
    return studio if device is None else f'{studio},device="{device}"'


def selector(metric: str, site: Site, device: Device, extra: str = "") -> str:
    return f"{metric}{{{matchers(site, device.id)}{extra}}}"


def in_site_unit(site: Site, celsius_query: str) -> str:
    return units.query_in_unit(celsius_query, site.alerts.temperature_unit)


def threshold(site: Site, celsius: float) -> str:
    """A limit in °C as the rules compare it: in the site's unit, to a hundredth of a degree."""
    return number(round(units.in_unit(celsius, site.alerts.temperature_unit), 2))


def display_temperature(site: Site, celsius: float) -> str:
    """``celsius`` as the site shows it, e.g. "1250 °C" or "2282 °F"."""
    return f"{threshold(site, celsius)} °{site.alerts.temperature_unit}"


def idle_expr(site: Site, device: Device) -> str | None:
    """A series (no labels) that exists while ``device`` is in its idle hours, else None."""
    idle = device.thresholds.idle
    if idle is None:
        return None
    local = f'((time() + timezone_offset("{site.alerts.timezone}")) % 86400)'
    start, end = durations.clock_seconds(idle.start), durations.clock_seconds(idle.end)
    join = "and" if start < end else "or"
    return f"({local} >= {start} {join} {local} < {end})"


def when(expr: str, idle: str | None, *, idle_time: bool) -> str:
    """``expr`` limited to the idle hours (``idle_time``) or to the working hours."""
    if idle is None:
        return expr
    return f"({expr}) {'and' if idle_time else 'unless'} on() {idle}"
