"""The rules' unit tests: for every alert, when it must fire and when it must not; the 24-hour
normal firing of the virtual furnace. ``runner`` writes them to vmalert-tool files.

The device cases run for every device of the site (each has its own thresholds, schedule and
name in the text); each case starts from every device steady and the host healthy, then changes
one thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sensor_bridge.alerting import alerts, durations, promql, rules, units
from sensor_bridge.alerting.series import (
    DAY_S,
    FAST_STEP_S,
    IGNORED_LABELS,
    LEAD_S,
    SLOW_AFTER_S,
    SLOW_STEP_S,
    STEP_S,
    Case,
    Expect,
    Values,
    change,
    device_labels,
    event_time,
    is_idle,
    normal_case,
    normal_temperature,
    rule_check,
    series_key,
    set_between,
    set_from,
    values_between,
    values_from,
)
from sensor_bridge.registry import VECTOR
from sensor_bridge.site import Device, Site
from sensor_protocol.fields import FAULT_BITS


def seconds(duration: str) -> int:
    """Whole seconds: the cases step through time in them."""
    return int(durations.seconds(duration))


def display(site: Site, celsius: float) -> float:
    return units.in_unit(celsius, site.alerts.temperature_unit)


@dataclass(frozen=True)
class Scene:
    """What every case builder needs: the site, the device under test, expectations."""

    site: Site
    device: Device
    expect: Expect

    @property
    def labels(self) -> dict[str, str]:
        return device_labels(self.site, self.device)

    def case(self, name: str, event_s: int, after_s: int, step: int | None = None) -> Case:
        length = event_s + after_s
        if step is None:
            step = STEP_S if length <= SLOW_AFTER_S else SLOW_STEP_S
        return normal_case(f"{name} ({self.device.id})", self.site, length, step)

    def check(self, case: Case, at_s: int, name: str, *firing: dict[str, Any]) -> None:
        case.checks.append(rule_check(at_s, name, self.expect.group(name), firing))

    def flame_start(self, length_s: int) -> int:
        idle = self.device.thresholds.idle
        if idle is not None and not idle.flame:
            return event_time(self.site, self.device, idle=False, length_s=length_s)
        return LEAD_S


def flame_cases(scene: Scene) -> list[Case]:
    thresholds = scene.device.thresholds
    hold = seconds(thresholds.flame_out_for)
    event = scene.flame_start(seconds(thresholds.erratic_window) + 600)
    out = scene.case("flame out fires", event, hold + 60, step=FAST_STEP_S)
    set_from(out, promql.FLAME, scene.labels, event, 0.05)
    flame_out = scene.expect.alert(alerts.FLAME_OUT, device=scene.device)
    scene.check(out, event - FAST_STEP_S, alerts.FLAME_OUT)
    scene.check(out, event, alerts.FLAME_OUT)
    scene.check(out, event + hold, alerts.FLAME_OUT, flame_out)
    # The too-cold alert is not for a furnace whose flame is out (unless the site says so).
    dip = scene.case("one dark sample is no flame out", event, hold + 60, step=FAST_STEP_S)
    change(
        dip,
        promql.FLAME,
        scene.labels,
        lambda v: values_between(dip, event, event + FAST_STEP_S, 0.05, v),
    )
    for at in range(event, event + hold + 2 * FAST_STEP_S, FAST_STEP_S):
        scene.check(dip, at, alerts.FLAME_OUT)
    window = seconds(thresholds.erratic_window)
    hold_erratic = seconds(thresholds.erratic_for)
    swing = 1.0
    erratic = scene.case("erratic flame fires", event, window + hold_erratic + 60)
    count = erratic.steps() - event // erratic.step_s
    swinging = [3.5 + swing * (1 if i % 2 else -1) for i in range(count)]
    change(erratic, promql.FLAME, scene.labels, lambda v: v[: event // erratic.step_s] + swinging)
    scene.check(erratic, event + hold_erratic, alerts.FLAME_ERRATIC)
    scene.check(
        erratic,
        event + window + hold_erratic,
        alerts.FLAME_ERRATIC,
        scene.expect.alert(alerts.FLAME_ERRATIC, device=scene.device),
    )
    relit = scene.case("a flame that went out and was relit is not erratic", event, window + 60)
    set_between(relit, promql.FLAME, scene.labels, start=event, end=event + 60, value=0.05)
    for at in range(event + 60, event + window + 60, 30):
        scene.check(relit, at, alerts.FLAME_ERRATIC)
    return [out, dip, erratic, relit]


def temperature_cases(scene: Scene) -> list[Case]:
    site, device, thresholds = scene.site, scene.device, scene.device.thresholds
    cases = []
    schedules: list[tuple[bool, float, float | None]] = [
        (False, thresholds.too_hot_c, thresholds.too_cold_c)
    ]
    if thresholds.idle is not None:
        schedules.append((True, thresholds.idle.too_hot_c, thresholds.idle.too_cold_c))
    for idle, hot, cold in schedules:
        when = "idle" if idle else "working"
        hot_for = seconds(thresholds.too_hot_for)
        cold_for = seconds(thresholds.too_cold_for)
        event = event_time(site, device, idle=idle, length_s=max(hot_for, cold_for) + 60)
        step = STEP_S if event + cold_for + 60 <= SLOW_AFTER_S else SLOW_STEP_S
        too_hot = scene.case(f"too hot fires ({when} hours)", event, hot_for + 60, step=step)
        set_from(too_hot, promql.TEMPERATURE, scene.labels, event, hot + 20)
        scene.check(too_hot, event + hot_for - 30, alerts.FURNACE_TOO_HOT)
        scene.check(
            too_hot,
            event + hot_for + step,
            alerts.FURNACE_TOO_HOT,
            scene.expect.alert(
                alerts.FURNACE_TOO_HOT, device=device, idle=idle, value=display(site, hot + 20)
            ),
        )
        cases.append(too_hot)
        spike = scene.case(
            f"a short spike is not too hot ({when} hours)", event, hot_for + 60, step=step
        )
        set_between(
            spike,
            promql.TEMPERATURE,
            scene.labels,
            start=event,
            end=event + hot_for // 2,
            value=hot + 20,
        )
        scene.check(spike, event + hot_for + step, alerts.FURNACE_TOO_HOT)
        cases.append(spike)
        if cold is None:
            continue
        too_cold = scene.case(f"too cold fires ({when} hours)", event, cold_for + 60, step=step)
        set_from(too_cold, promql.TEMPERATURE, scene.labels, event, cold - 20)
        scene.check(too_cold, event + cold_for - 30, alerts.FURNACE_TOO_COLD)
        scene.check(
            too_cold,
            event + cold_for + step,
            alerts.FURNACE_TOO_COLD,
            scene.expect.alert(
                alerts.FURNACE_TOO_COLD, device=device, idle=idle, value=display(site, cold - 20)
            ),
        )
        cases.append(too_cold)
        if not thresholds.cold_while_flame_out:
            off = scene.case(
                f"a furnace turned off is not too cold ({when} hours)", event, cold_for + 60
            )
            set_from(off, promql.TEMPERATURE, scene.labels, event, cold - 20)
            set_from(off, promql.FLAME, scene.labels, event, 0.05)
            scene.check(off, event + cold_for + step, alerts.FURNACE_TOO_COLD)
            cases.append(off)
    return cases


def _silence_device(case: Case, scene: Scene, start: int, end: int | None = None) -> None:
    """No readings or health from the device from ``start`` (until ``end``)."""
    stop = case.length_s + case.step_s if end is None else end
    names = [promql.TEMPERATURE, promql.FLAME, promql.SEQUENCE, promql.UPTIME]
    names += [promql.DROPS, promql.CLOCK_VALID]
    for name in names:
        set_between(case, name, scene.labels, start=start, end=stop, value=None)
    for fault, _ in FAULT_BITS:
        labels = {**scene.labels, "fault": fault}
        set_between(case, promql.FAULT, labels, start=start, end=stop, value=None)


def _set_online(case: Case, scene: Scene, at_s: int, online: float) -> None:
    labels = scene.labels
    if scene.device.name:
        labels = {**labels, "device_name": scene.device.name}
    key = series_key(promql.ONLINE, labels)
    values = case.series[key]
    values[at_s // case.step_s] = online


def data_cases(scene: Scene) -> list[Case]:
    no_data_for = seconds(scene.device.thresholds.no_data_for)
    event = LEAD_S
    offline = scene.case(
        "no data from an offline device", event, no_data_for + 120, step=FAST_STEP_S
    )
    _silence_device(offline, scene, event)
    _set_online(offline, scene, event, 0)
    scene.check(offline, event + no_data_for - 2 * FAST_STEP_S, alerts.NO_DATA)
    scene.check(
        offline,
        event + no_data_for,
        alerts.NO_DATA,
        scene.expect.alert(alerts.NO_DATA, device=scene.device, value=1),
    )
    scene.check(offline, event + no_data_for + 120, alerts.PIPELINE_STALLED)
    stalled_for = seconds(rules.STALLED_FOR)
    stalled = scene.case("pipeline stalled: online, no data", event, no_data_for + stalled_for + 60)
    _silence_device(stalled, scene, event)
    # The last reading is one step before the event.
    scene.check(
        stalled, event + no_data_for + stalled_for - 2 * stalled.step_s, alerts.PIPELINE_STALLED
    )
    scene.check(
        stalled,
        event + no_data_for + stalled_for + stalled.step_s,
        alerts.PIPELINE_STALLED,
        scene.expect.alert(alerts.PIPELINE_STALLED, device=scene.device, value=1),
    )
    outage_s = 1800
    backfill = scene.case("an outage, backfilled: no flame out, no too cold", event, outage_s + 600)
    _silence_device(backfill, scene, event, event + outage_s)
    _set_online(backfill, scene, event, 0)
    _set_online(backfill, scene, event + outage_s, 1)
    scene.check(
        backfill,
        event + outage_s - 60,
        alerts.NO_DATA,
        scene.expect.alert(alerts.NO_DATA, device=scene.device, value=1),
    )
    for at in range(event, event + outage_s + 600, 60):
        scene.check(backfill, at, alerts.FLAME_OUT)
        scene.check(backfill, at, alerts.FURNACE_TOO_COLD)
    scene.check(backfill, event + outage_s + 60, alerts.NO_DATA)
    return [offline, stalled, backfill]


def device_system_cases(scene: Scene) -> list[Case]:
    event = LEAD_S
    labels = scene.labels
    cases = []
    fault = {**labels, "fault": "open_tc"}
    hold = seconds(rules.FAULT_HOLD)
    broken = scene.case("thermocouple fault fires", event, hold + 60, step=FAST_STEP_S)
    set_from(broken, promql.FAULT, fault, event, 1)
    set_from(broken, promql.TEMPERATURE, labels, event, None)
    scene.check(broken, event + hold - 2 * FAST_STEP_S, alerts.THERMOCOUPLE_FAULT)
    scene.check(
        broken,
        event + hold,
        alerts.THERMOCOUPLE_FAULT,
        scene.expect.alert(
            alerts.THERMOCOUPLE_FAULT, device=scene.device, value=1, labels={"fault": "open_tc"}
        ),
    )
    blip = scene.case("a fault for 10 s is no fault alert", event, hold + 60, step=FAST_STEP_S)
    set_between(blip, promql.FAULT, fault, start=event, end=event + 10, value=1)
    for at in range(event, event + hold + 30, FAST_STEP_S):
        scene.check(blip, at, alerts.THERMOCOUPLE_FAULT)
    cases += [broken, blip]

    reboot = scene.case("a reboot fires", event, 120)
    change(
        reboot,
        promql.UPTIME,
        labels,
        lambda v: (
            v[: event // reboot.step_s]
            + [float(i * reboot.step_s) for i in range(len(v) - event // reboot.step_s)]
        ),
    )
    scene.check(reboot, event - reboot.step_s, alerts.DEVICE_REBOOTED)
    scene.check(
        reboot,
        event + 30,
        alerts.DEVICE_REBOOTED,
        scene.expect.alert(alerts.DEVICE_REBOOTED, device=scene.device, value=1),
    )
    planned = scene.case("a power-on reset is expected", event, 120)
    planned.series = dict(reboot.series)
    planned.put(
        promql.UNEXPECTED_RESET,
        labels,
        [None] * (event // planned.step_s)
        + [0.0]
        + [None] * (planned.steps() - event // planned.step_s - 1),
    )
    scene.check(planned, event + 30, alerts.DEVICE_REBOOTED)
    # Rebooting every minute: each health report says the same small uptime, never less.
    looping = scene.case("a node stuck rebooting fires from its births", event, 120)
    set_from(looping, promql.UPTIME, labels, 0, 60.0)
    looping.put(
        promql.UNEXPECTED_RESET,
        labels,
        [None] * (event // looping.step_s)
        + [1.0]
        + [None] * (looping.steps() - event // looping.step_s - 1),
    )
    scene.check(looping, event - looping.step_s, alerts.DEVICE_REBOOTED)
    scene.check(
        looping,
        event + 30,
        alerts.DEVICE_REBOOTED,
        scene.expect.alert(alerts.DEVICE_REBOOTED, device=scene.device, value=1),
    )
    cases += [reboot, planned, looping]

    drops = scene.case("buffer drops fire", event, 120)
    set_from(drops, promql.DROPS, labels, event, 5)
    scene.check(
        drops,
        event + 30,
        alerts.DEVICE_BUFFER_DROPPING,
        scene.expect.alert(alerts.DEVICE_BUFFER_DROPPING, device=scene.device, value=5),
    )
    window = seconds(rules.DROP_WINDOW)
    steady = scene.case("old drops are not new drops", event, window + 60)
    change(steady, promql.DROPS, labels, lambda v: [3.0] * len(v))
    scene.check(steady, event + window + 30, alerts.DEVICE_BUFFER_DROPPING)
    cases += [drops, steady]

    clock_for = seconds(rules.CLOCK_FOR)
    clock = scene.case("invalid clock fires", event, clock_for + 60)
    set_from(clock, promql.CLOCK_VALID, labels, event, 0)
    scene.check(clock, event + clock_for - 30, alerts.DEVICE_CLOCK_INVALID)
    scene.check(
        clock,
        event + clock_for + clock.step_s,
        alerts.DEVICE_CLOCK_INVALID,
        scene.expect.alert(alerts.DEVICE_CLOCK_INVALID, device=scene.device),
    )
    synced = scene.case("a clock set within minutes is fine", event, clock_for + 60)
    set_between(synced, promql.CLOCK_VALID, labels, start=event, end=event + 300, value=0)
    scene.check(synced, event + clock_for + synced.step_s, alerts.DEVICE_CLOCK_INVALID)
    cases += [clock, synced]
    return cases


def host_cases(site: Site, expect: Expect) -> list[Case]:
    event = LEAD_S
    cases = []

    def check(case: Case, at: int, name: str, *firing: dict[str, Any]) -> None:
        case.checks.append(rule_check(at, name, expect.group(name), firing))

    dead = normal_case("dead letters above normal fire", site, event + 120)
    dead_labels = {"studio": site.studio, "reason": "not_json"}
    limit = site.alerts.dead_letters_per_hour
    set_from(dead, promql.DEAD_LETTERS, dead_labels, event, 5 * limit + 5)
    check(
        dead,
        event + 30,
        alerts.DEAD_LETTERS,
        expect.alert(alerts.DEAD_LETTERS, value=5 * limit + 5),
    )
    few = normal_case("a few dead letters are normal", site, event + 120)
    change(
        few,
        promql.DEAD_LETTERS,
        dead_labels,
        lambda v: values_from(few, event, max(limit - 1, 0), v),
    )
    check(few, event + 30, alerts.DEAD_LETTERS)
    cases += [dead, few]

    ignored = normal_case("samples VictoriaMetrics ignores fire", site, event + 120)
    set_from(ignored, promql.ROWS_IGNORED, IGNORED_LABELS, event, 3)
    reason = {"reason": IGNORED_LABELS["reason"]}
    check(ignored, event - 30, alerts.STORE_IGNORING)
    check(
        ignored,
        event + 30,
        alerts.STORE_IGNORING,
        expect.alert(alerts.STORE_IGNORING, value=3, labels=reason),
    )
    cases.append(ignored)

    window = seconds(rules.SERVICE_DOWN_WINDOW) + seconds(rules.SERVICE_DOWN_FOR)
    service = {"job": VECTOR.name, "instance": "127.0.0.1"}
    down = normal_case("a service down fires", site, event + window + 60)
    set_from(down, "up", service, event, 0)
    down_alert = expect.alert(alerts.SERVICE_DOWN, labels={alerts.SERVICE_LABEL: VECTOR.name})
    down_alert["labels"] = {**down_alert["labels"], **service}
    check(down, event + window - 2 * down.step_s, alerts.SERVICE_DOWN)
    check(down, event + window, alerts.SERVICE_DOWN, down_alert)
    blip = normal_case("one failed scrape is not down", site, event + window + 60)
    set_between(blip, "up", service, start=event, end=event + blip.step_s, value=0)
    check(blip, event + window, alerts.SERVICE_DOWN)
    gone_window = seconds(rules.SERVICE_ABSENT_WINDOW) + seconds(rules.SERVICE_DOWN_FOR)
    gone = normal_case("a service nobody scrapes fires", site, event + gone_window + 60)
    set_from(gone, "up", service, event, None)
    gone_alert = expect.alert(alerts.SERVICE_DOWN, labels={alerts.SERVICE_LABEL: VECTOR.name})
    gone_alert["labels"] = {**gone_alert["labels"], "job": VECTOR.name}
    check(gone, event + gone_window, alerts.SERVICE_DOWN, gone_alert)
    # The first scrape lands within a minute of vmalert's start: absent until then.
    boot = normal_case(
        "a Pi booting after a long stop does not page", site, event + 120, FAST_STEP_S
    )
    first_scrape = seconds(rules.SERVICE_DOWN_FOR) - 2 * boot.step_s
    set_between(boot, "up", service, start=0, end=first_scrape, value=None)
    check(boot, first_scrape - boot.step_s, alerts.SERVICE_DOWN)
    check(boot, first_scrape + boot.step_s, alerts.SERVICE_DOWN)
    cases += [down, blip, gone, boot]

    return cases


def pi_cases(site: Site, expect: Expect) -> list[Case]:
    """The Pi's own disk, temperature and memory."""
    event = LEAD_S

    def check(case: Case, at: int, name: str, *firing: dict[str, Any]) -> None:
        case.checks.append(rule_check(at, name, expect.group(name), firing))

    pi_for = seconds(rules.PI_FOR)
    disk_labels = {"mountpoint": "/", "fstype": "ext4", "device": "/dev/mmcblk0p2"}
    full = normal_case("a nearly full disk fires", site, event + pi_for + 60)
    free = site.alerts.disk_free_percent / 2
    change(
        full,
        "node_filesystem_avail_bytes",
        disk_labels,
        lambda v: values_from(full, event, 60e9 * free / 100, v),
    )
    disk_alert = expect.alert(alerts.DISK_NEARLY_FULL, value=free, labels=disk_labels)
    check(full, event + pi_for - 30, alerts.DISK_NEARLY_FULL)
    check(full, event + pi_for + full.step_s, alerts.DISK_NEARLY_FULL, disk_alert)

    hot_for = seconds(rules.PI_HOT_FOR)
    hot = normal_case("an overheating Pi fires", site, event + hot_for + 60)
    too_hot = site.alerts.pi_temperature_c + 5
    change(
        hot,
        "node_thermal_zone_temp",
        {"zone": "0", "type": "cpu-thermal"},
        lambda v: values_from(hot, event, too_hot, v),
    )
    check(hot, event + hot_for - 30, alerts.PI_OVERHEATING)
    check(
        hot,
        event + hot_for + hot.step_s,
        alerts.PI_OVERHEATING,
        expect.alert(alerts.PI_OVERHEATING, value=too_hot),
    )

    memory = normal_case("a Pi short of memory fires", site, event + pi_for + 60)
    left = site.alerts.memory_available_percent / 2
    change(
        memory,
        "node_memory_MemAvailable_bytes",
        {},
        lambda v: values_from(memory, event, 4e9 * left / 100, v),
    )
    check(memory, event + pi_for - 30, alerts.PI_LOW_MEMORY)
    check(
        memory,
        event + pi_for + memory.step_s,
        alerts.PI_LOW_MEMORY,
        expect.alert(alerts.PI_LOW_MEMORY, value=left),
    )
    return [full, hot, memory]


def normal_day(site: Site, expect: Expect, seed: int = 1) -> Case:
    """24 hours of every device's virtual furnace, turned down in its idle hours: no alert."""
    from sensor_bridge.virtual.furnace import FurnaceModel

    case = normal_case(
        "24 hours of normal firing: no alert but the heartbeat", site, DAY_S, FAST_STEP_S
    )
    for index, device in enumerate(site.devices):
        model = FurnaceModel(seed + index)
        temperature: Values = []
        flame: Values = []
        for step in range(case.steps()):
            at = step * FAST_STEP_S
            idle = is_idle(site, device, at)
            model.set(setpoint_c=normal_temperature(site, device, idle))
            if device.thresholds.idle is not None and not device.thresholds.idle.flame:
                model.set(flame="out" if idle else "lit")
            sample = model.sample(float(at))
            # As the device reports them: 0.01 °C and 1 mV.
            temperature.append(round(sample.hot_c, 2))
            flame.append(round(sample.flame_v, 3))
        labels = device_labels(site, device)
        case.put(promql.TEMPERATURE, labels, temperature)
        case.put(promql.FLAME, labels, flame)

    case.exprs.append(
        {
            "expr": (
                "count by (alertname, device) (count_over_time(ALERTS"
                f'{{alertstate="firing",alertname!="{alerts.HEARTBEAT}"}}[{DAY_S + 3600}s]))'
            ),
            "eval_time": f"{DAY_S}s",
            "exp_samples": [],
        }
    )
    case.checks.append(
        rule_check(
            DAY_S,
            alerts.HEARTBEAT,
            expect.group(alerts.HEARTBEAT),
            [expect.alert(alerts.HEARTBEAT)],
        )
    )
    return case


def cases(site: Site) -> list[Case]:
    """Every event case: each device's, then the Pi's and its services'."""
    expect = Expect(site)
    found = []
    for device in site.devices:
        scene = Scene(site, device, expect)
        found += flame_cases(scene) + temperature_cases(scene) + data_cases(scene)
        found += device_system_cases(scene)
    found += host_cases(site, expect) + pi_cases(site, expect)
    heartbeat = normal_case("the heartbeat always fires", site, 60)
    heartbeat.checks.append(
        rule_check(
            30, alerts.HEARTBEAT, expect.group(alerts.HEARTBEAT), [expect.alert(alerts.HEARTBEAT)]
        )
    )
    return [*found, heartbeat]
