"""vmalert's rules, generated from the contract and each device's thresholds.

Every alert carries ``type`` (shop: the owner is paged; system: support), ``severity``,
``studio`` (vmalert's external label) and ``device`` where it applies, and three annotations:
``summary`` (one line for the reader), ``description`` (what to check, in plain words for the
artist on shop alerts) and ``runbook`` (one line for support). Temperatures in alert values and
annotations are in the site's unit; storage stays Celsius.

Latency: a flame out must reach Alertmanager's receiver within 20 s. VictoriaMetrics hides
samples newer than ``storage.latency_offset`` (5 s) from queries; vmalert evaluates at "now minus
``-rule.evalDelay``", set to the same offset (``render.vmalert``), so a query never asks for what
cannot be seen yet. The shop group runs every ``SHOP_INTERVAL`` (2 s) and flame out has no
``for:``; its hold is the window itself (every sample of the last ``flame_out_for`` below the
limit). With 5 s samples the alert fires 10-12 s after the first dark sample, 10-17 s after the
flame itself went out (the dark sample comes up to a sample period later); Alertmanager's shop
``group_wait`` (1 s) adds little. Evaluating every 5 s instead would add up to 3 s more, past the
goal at p95.

Device identity: rules are per device, so thresholds, schedules and the name in the text are the
device's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from sensor_bridge.alerting import alerts, dead_letters
from sensor_bridge.alerting.promql import (
    CLOCK_VALID,
    DROPS,
    FAULT,
    FLAME,
    ONLINE,
    ROWS_IGNORED,
    SEQUENCE,
    TEMPERATURE,
    UNEXPECTED_RESET,
    UPTIME,
    display_temperature,
    idle_expr,
    in_site_unit,
    number,
    selector,
    threshold,
    when,
)
from sensor_bridge.registry import VICTORIAMETRICS, Service, here
from sensor_bridge.site import Device, Site

SHOP_GROUP = "shop"
SYSTEM_GROUP = "system"
SHOP_INTERVAL = "2s"
"""The device samples every 5 s: the flame-out window sees a new sample at every evaluation."""
SYSTEM_INTERVAL = "30s"
TEMPERATURE_WINDOW = "1m"
"""How far back the latest temperature may be: a longer gap is "no data", not a temperature."""
FAULT_HOLD = "30s"
REBOOT_WINDOW = "30m"
DROP_WINDOW = "15m"
CLOCK_FOR = "10m"
STALLED_FOR = "1m"
ONLINE_LOOKBACK = "90d"
"""furnace_device_online is written only when a status message arrives: its latest value may
be weeks old and still true."""
IGNORED_WINDOW = "15m"
SERVICE_DOWN_WINDOW = "2m"
SERVICE_ABSENT_WINDOW = "5m"
SERVICE_DOWN_FOR = "1m"
"""A Pi that was off for a while boots with no recent ``up`` at all; Alloy's first scrapes
become visible within seconds, before this hold ends: no page for a normal boot."""
PI_FOR = "10m"
PI_HOT_FOR = "5m"

IGNORED_FILESYSTEMS = "tmpfs|devtmpfs|overlay|squashfs|ramfs|vfat"
"""Memory-backed, read-only images and the Pi's small boot partition."""

HEADER = "# Rendered by sensor-bridge from the site file; edits here are overwritten.\n"


def rules_yaml(site: Site) -> str:
    text: str = yaml.safe_dump(rules(site), sort_keys=False, allow_unicode=True, width=1 << 16)
    return HEADER + text


def rules(site: Site) -> dict[str, Any]:
    shop = [rule for device in site.devices for rule in _shop_rules(site, device)]
    system = [rule for device in site.devices for rule in _device_system_rules(site, device)]
    system += _host_rules(site)
    return {
        "groups": [
            {"name": SHOP_GROUP, "interval": SHOP_INTERVAL, "rules": shop},
            {"name": SYSTEM_GROUP, "interval": SYSTEM_INTERVAL, "rules": system},
        ]
    }


def _rule(  # noqa: PLR0913 - one per part of the vmalert rule it builds
    name: str,
    expr: str,
    *,
    kind: str,
    severity: str,
    summary: str,
    description: str,
    runbook: str,
    hold: str = "0s",
    device: Device | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    rule_labels = {alerts.TYPE_LABEL: kind, "severity": severity}
    if device is not None:
        rule_labels[alerts.DEVICE_LABEL] = device.id
    rule_labels.update(labels or {})
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if hold != "0s":
        rule["for"] = hold
    rule["labels"] = rule_labels
    rule["annotations"] = {"summary": summary, "description": description, "runbook": runbook}
    return rule


def _called(device: Device) -> str:
    where = f" ({device.location})" if device.location else ""
    return f"{device.name or device.id}{where}"


def _shop_rules(site: Site, device: Device) -> list[dict[str, Any]]:
    thresholds = device.thresholds
    idle = idle_expr(site, device)
    unit = site.alerts.temperature_unit
    value = '{{ printf "%.0f" $value }} °' + unit
    latest = in_site_unit(
        site, f"last_over_time({selector(TEMPERATURE, site, device)}[{TEMPERATURE_WINDOW}])"
    )
    called = _called(device)
    rules = []

    def too_hot(limit: float, idle_time: bool) -> dict[str, Any]:
        return _rule(
            alerts.FURNACE_TOO_HOT,
            when(f"{latest} > {threshold(site, limit)}", idle, idle_time=idle_time),
            kind=alerts.SHOP,
            severity="critical",
            hold=thresholds.too_hot_for,
            device=device,
            summary=f"{called} is too hot: {value}",
            description=(
                f"{called} has been above {display_temperature(site, limit)} for "
                f"{thresholds.too_hot_for}. Check the burner and its controller now."
            ),
            runbook="Compare with the controller's display; a thermocouple fault alert would "
            "mean the reading itself is wrong.",
        )

    def too_cold(limit: float, idle_time: bool) -> dict[str, Any]:
        expr = f"{latest} < {threshold(site, limit)}"
        if not thresholds.cold_while_flame_out:
            flame = f"last_over_time({selector(FLAME, site, device)}[{TEMPERATURE_WINDOW}])"
            expr = f"({expr}) and on(studio, device) ({flame} >= {number(thresholds.flame_min_v)})"
        return _rule(
            alerts.FURNACE_TOO_COLD,
            when(expr, idle, idle_time=idle_time),
            kind=alerts.SHOP,
            severity="warning",
            hold=thresholds.too_cold_for,
            device=device,
            summary=f"{called} is too cold: {value}",
            description=(
                f"{called} has been below {display_temperature(site, limit)} for "
                f"{thresholds.too_cold_for}. Check the gas supply and the burner setting."
            ),
            runbook="Check the furnace's set point and schedule against the site's "
            "thresholds (site.toml [devices.thresholds]).",
        )

    rules.append(too_hot(thresholds.too_hot_c, idle_time=False))
    rules.append(too_cold(thresholds.too_cold_c, idle_time=False))
    if thresholds.idle is not None:
        rules.append(too_hot(thresholds.idle.too_hot_c, idle_time=True))
        if thresholds.idle.too_cold_c is not None:
            rules.append(too_cold(thresholds.idle.too_cold_c, idle_time=True))
    # With the furnace off at night, its flame is out on purpose.
    flame_idle = None if thresholds.idle is None or thresholds.idle.flame else idle
    flame = selector(FLAME, site, device)
    min_v = number(thresholds.flame_min_v)
    rules.append(
        _rule(
            alerts.FLAME_OUT,
            when(
                f"max_over_time({flame}[{thresholds.flame_out_for}]) < {min_v}",
                flame_idle,
                idle_time=False,
            ),
            kind=alerts.SHOP,
            severity="critical",
            device=device,
            summary=f"Flame out on {called}",
            description=(
                f"The flame sensor of {called} has read no flame (below {min_v} V) for "
                f"{thresholds.flame_out_for}. Check the furnace now: if the flame is out, shut "
                "the gas and follow the relighting procedure."
            ),
            runbook="A flame rod reading near 0 V: the flame is out, or the rod or its wiring "
            "failed; the temperature trend tells which.",
        )
    )
    window = thresholds.erratic_window
    rules.append(
        _rule(
            alerts.FLAME_ERRATIC,
            when(
                f"stddev_over_time({flame}[{window}]) > {number(thresholds.erratic_stddev_v)} "
                f"and min_over_time({flame}[{window}]) >= {min_v}",
                flame_idle,
                idle_time=False,
            ),
            kind=alerts.SHOP,
            severity="warning",
            hold=thresholds.erratic_for,
            device=device,
            summary=f"Unsteady flame on {called}",
            description=(
                f"The flame of {called} has been flickering strongly for "
                f"{thresholds.erratic_for}. Look at the flame: check the gas pressure, the air "
                "supply and whether the burner needs cleaning."
            ),
            runbook=f"Flame-rod signal standard deviation over {window} above "
            f"{number(thresholds.erratic_stddev_v)} V while lit; a loose rod connection looks "
            "the same.",
        )
    )
    rules.append(
        _rule(
            alerts.NO_DATA,
            f"absent_over_time({selector(SEQUENCE, site, device)}[{thresholds.no_data_for}])",
            kind=alerts.SHOP,
            severity="critical",
            device=device,
            summary=f"No readings from {called}",
            description=(
                f"Nothing has been heard from the sensor on {called} for "
                f"{thresholds.no_data_for}: the furnace is not being watched. Check that the "
                "sensor box has power and Wi-Fi (its light)."
            ),
            runbook="Device offline (LWT) or the pipeline stalled (see PipelineStalled); "
            "`sensor-bridge dataflow` tells which.",
        )
    )
    rules.append(
        _rule(
            alerts.THERMOCOUPLE_FAULT,
            f"min_over_time({selector(FAULT, site, device)}[{FAULT_HOLD}]) == 1",
            kind=alerts.SHOP,
            severity="warning",
            device=device,
            summary=f"Temperature sensor fault on {called}: {{{{ $labels.fault }}}}",
            description=(
                f"The temperature reading of {called} cannot be trusted "
                "({{ $labels.fault }}). Check the thermocouple and its plug; until it is fixed "
                "there are no temperature alerts."
            ),
            runbook="MAX31856 fault flag held for 30 s: open_tc = broken or unplugged "
            "thermocouple; voltage = short to ground or supply; cj_* = board too hot or cold.",
        )
    )
    return _sources_first(rules)


def _sources_first(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Inhibiting alerts before the ones they mute. vmalert evaluates a group in order and
    sends each rule's alerts as it goes; Alertmanager sends at once an alert older than
    group_wait (all of them, by latency_offset), so a target sent before its source arrives
    would page despite the inhibition."""
    sources = {inhibition.source for inhibition in alerts.INHIBITIONS}
    return sorted(rules, key=lambda rule: rule["alert"] not in sources)


def _device_system_rules(site: Site, device: Device) -> list[dict[str, Any]]:
    called = _called(device)
    expected = f"last_over_time({selector(UNEXPECTED_RESET, site, device)}[{REBOOT_WINDOW}])"
    readings = selector(SEQUENCE, site, device)
    online = f"last_over_time({selector(ONLINE, site, device)}[{ONLINE_LOOKBACK}])"
    no_data_for = device.thresholds.no_data_for
    return [
        _rule(
            alerts.DEVICE_REBOOTED,
            # A reboot shows as the uptime going back, unless its birth said it was planned;
            # or as a birth saying it was not, which also catches a node that reboots faster
            # than it reports its uptime.
            f"max by (studio, device) ((resets({selector(UPTIME, site, device)}"
            f"[{REBOOT_WINDOW}]) > 0) unless on(studio, device) ({expected} == 0)) "
            f"or max by (studio, device) (max_over_time("
            f"{selector(UNEXPECTED_RESET, site, device)}[{REBOOT_WINDOW}]) == 1)",
            kind=alerts.SYSTEM,
            severity="warning",
            device=device,
            summary=f"Sensor on {called} rebooted",
            description=f"The sensor node on {called} restarted in the last {REBOOT_WINDOW}.",
            runbook="Read reset_reason / safe_mode_reason / reset_cause in its retained status "
            "(mosquitto_sub -t '+/+/DEVICE/status' -C 1); watchdog or brown-out twice is a "
            "hardware or power problem.",
        ),
        _rule(
            alerts.DEVICE_BUFFER_DROPPING,
            f"increase({selector(DROPS, site, device)}[{DROP_WINDOW}]) > 0",
            kind=alerts.SYSTEM,
            severity="warning",
            device=device,
            summary=f"Sensor on {called} is losing readings",
            description=f"Its offline buffer overflowed in the last {DROP_WINDOW}: readings "
            "taken while it could not reach the broker are lost.",
            runbook="The node could not publish for longer than its buffer holds: check Wi-Fi "
            "(RSSI), the broker, and reconnect counts in its health.",
        ),
        _rule(
            alerts.DEVICE_CLOCK_INVALID,
            f"last_over_time({selector(CLOCK_VALID, site, device)}[5m]) == 0",
            kind=alerts.SYSTEM,
            severity="warning",
            hold=CLOCK_FOR,
            device=device,
            summary=f"Sensor on {called} has no valid clock",
            description="Its clock has not been set from NTP for 6 h, or not since it booted: "
            "then its readings wait on the board and are lost once its buffer is full.",
            runbook="Check NTP on the Pi (the node's NTP server defaults to the broker host) "
            "and the node's NTP_SERVER setting.",
        ),
        _rule(
            alerts.PIPELINE_STALLED,
            f"(max by (studio, device) ({online}) == 1) unless on(studio, device) "
            f"(count_over_time({readings}[{no_data_for}]) > 0)",
            kind=alerts.SYSTEM,
            severity="critical",
            hold=STALLED_FOR,
            device=device,
            summary=f"Pipeline stalled for {called}",
            description=f"The sensor is online on the broker but no reading reached "
            f"VictoriaMetrics for {no_data_for}.",
            runbook="`sensor-bridge dataflow`; restart Vector (monit should have done so); "
            "check the broker session of the pipeline's client id.",
        ),
    ]


def _host_rules(site: Site) -> list[dict[str, Any]]:
    limits = site.alerts
    rules = [
        _rule(
            alerts.DEAD_LETTERS,
            f"{dead_letters.per_hour('studio')} > {limits.dead_letters_per_hour}",
            kind=alerts.SYSTEM,
            severity="warning",
            summary="The pipeline is rejecting many messages",
            description=f"More than {limits.dead_letters_per_hour} payloads rejected in the "
            'last hour ({{ printf "%.0f" $value }}).',
            runbook=f"Rejections by reason: {dead_letters.per_hour('reason, device')}; "
            "samples in the dead-letters directory of Vector.",
        )
    ]
    if VICTORIAMETRICS in scraped(site):
        rules.append(
            _rule(
                alerts.STORE_IGNORING,
                f"sum by (reason) (increase({ROWS_IGNORED}[{IGNORED_WINDOW}])) > 0",
                kind=alerts.SYSTEM,
                severity="warning",
                summary="VictoriaMetrics is dropping samples ({{ $labels.reason }})",
                description='{{ printf "%.0f" $value }} samples written in the last '
                f"{IGNORED_WINDOW} were not stored ({{{{ $labels.reason }}}}), and no dead "
                "letter counts them.",
                runbook=f"grep {ROWS_IGNORED} on VictoriaMetrics' /metrics and its log: "
                "big_timestamp or small_timestamp is a writer with a wrong clock (the decode "
                "holds the boards' readings to their arrival; check `sensor-bridge migrate` "
                "and other writers).",
            )
        )
    for service in scraped(site):
        name = service.name
        up = f'up{{job="{name}"}}'
        manager = f" --user --machine={site.service_user.name}@.host" if service.user else ""
        rules.append(
            _rule(
                alerts.SERVICE_DOWN,
                f"max_over_time({up}[{SERVICE_DOWN_WINDOW}]) == 0 "
                f"or absent_over_time({up}[{SERVICE_ABSENT_WINDOW}])",
                kind=alerts.SYSTEM,
                severity="critical",
                hold=SERVICE_DOWN_FOR,
                labels={alerts.SERVICE_LABEL: name},
                summary=f"{name} is down",
                description=f"{name} has not answered its scrape for "
                f"{SERVICE_DOWN_WINDOW} (or nothing scraped it for {SERVICE_ABSENT_WINDOW}).",
                runbook=f"monit status; systemctl{manager} status {service.unit}; journalctl "
                "for its last lines. No up series at all: check Alloy.",
            )
        )
    fs = f'{{fstype!~"{IGNORED_FILESYSTEMS}"}}'
    rules += [
        _rule(
            alerts.DISK_NEARLY_FULL,
            f"node_filesystem_avail_bytes{fs} / node_filesystem_size_bytes{fs} * 100 "
            f"< {number(limits.disk_free_percent)}",
            kind=alerts.SYSTEM,
            severity="warning",
            hold=PI_FOR,
            summary="The Pi's disk {{ $labels.mountpoint }} is nearly full",
            description='{{ printf "%.1f" $value }}% free on {{ $labels.mountpoint }}.',
            runbook="du -xh on the mount; VictoriaMetrics data and Vector's buffer live under "
            "/var/lib/sensor-pipeline.",
        ),
        _rule(
            alerts.PI_OVERHEATING,
            'max by (studio, instance) ({__name__=~"node_thermal_zone_temp|'
            f'node_hwmon_temp_celsius"}}) > {number(limits.pi_temperature_c)}',
            kind=alerts.SYSTEM,
            severity="warning",
            hold=PI_HOT_FOR,
            summary="The Pi is overheating",
            description='Its SoC is at {{ printf "%.0f" $value }} °C: it throttles and may '
            "become unreliable.",
            runbook="Check its case, fan and where it sits (not above the furnace).",
        ),
        _rule(
            alerts.PI_LOW_MEMORY,
            "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes * 100 "
            f"< {number(limits.memory_available_percent)}",
            kind=alerts.SYSTEM,
            severity="warning",
            hold=PI_FOR,
            summary="The Pi is short of memory",
            description='{{ printf "%.1f" $value }}% of its memory is available.',
            runbook="ps aux --sort=-rss | head; VictoriaMetrics and Vector are the big ones.",
        ),
        _rule(
            alerts.HEARTBEAT,
            "vector(1)",
            kind=alerts.SYSTEM,
            severity="none",
            summary="The Pi's alerting is alive",
            description="Always firing: Grafana IRM pages support when it stops arriving.",
            runbook="If IRM's heartbeat fails: the Pi, its network, VictoriaMetrics, vmalert "
            "or Alertmanager is down.",
        ),
    ]
    return rules


def scraped(site: Site) -> list[Service]:
    """The services whose ``up`` series Alloy writes on this Pi (``render.alloy``): one
    ServiceDown rule each."""
    return [service for service in here(site) if service.scrape is not None]


def alert_names(site: Site) -> Sequence[str]:
    """Every alert name the rules use, once each, in rule order."""
    names = [r["alert"] for group in rules(site)["groups"] for r in group["rules"]]
    return list(dict.fromkeys(names))
