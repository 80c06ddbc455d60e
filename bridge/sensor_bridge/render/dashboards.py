"""Grafana dashboards as code, generated from the contract's field tables and the site.

Three dashboards, written as Grafana dashboard JSON under the service user's
``~/.config/sensor-pipeline/dashboards/`` (``sensor-bridge dashboards push`` or Grafana's
import takes them from there), built with grafana-foundation-sdk's typed builders:

* ``furnace``: per device, the temperature (in the site's unit, storage stays °C) with its
  too-hot and too-cold thresholds as lines, the flame voltage with its flame-out threshold,
  cold junction and fault flags; firing alerts as annotations (vmalert's ``ALERTS`` series,
  kept in VictoriaMetrics and sent on to Grafana Cloud);
* ``device-health``: every ``HEALTH_FIELDS`` metric of every device, and its online status;
* ``pipeline-health``: readings stored per device, dead letters by reason, Vector's
  per-component counters and buffers, whether each service answers (``up``, written by Alloy),
  and the broker's clients and messages (its ``$SYS`` statistics, ``render.broker_stats``),
  shown only while the broker still publishes them (its uptime rises).

Every query takes a Prometheus-type data source chosen on the dashboard: by default Grafana
Cloud's hosted Prometheus (``dashboards.datasource_uid``), which Vector (furnace, health,
pipeline series and ``ALERTS``, ``render.vector_cloud``) and Alloy (the Pi, the services, the
broker) feed; or the Pi's VictoriaMetrics, which holds the same series.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from grafana_foundation_sdk.builders import dashboard, prometheus, statetimeline, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableOption,
)

from sensor_bridge.alerting import dead_letters, promql, units
from sensor_bridge.alerting.promql import matchers
from sensor_bridge.render import (
    RenderContext,
    RenderedFile,
    alloy,
    broker_stats,
    user_path,
)
from sensor_bridge.render.vrl import FAULT_TAG
from sensor_bridge.site import Device, Site
from sensor_protocol.fields import (
    CONTRACT_METRICS,
    HEALTH_FIELDS,
    METRIC_NAMESPACE,
    full_metric_name,
)

NAME = "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
WIDTH = 24
HEIGHT = 8

ONLINE = f"{METRIC_NAMESPACE}_{CONTRACT_METRICS[0]}"
VECTOR_COUNTERS = (
    "vector_component_received_events_total",
    "vector_component_sent_events_total",
    "vector_component_errors_total",
    "vector_component_discarded_events_total",
)
VECTOR_BUFFER = "vector_buffer_size_events"
BROKER_UPTIME = broker_stats.metric_name("$SYS/broker/uptime", "seconds")
BROKER_CLIENTS = {
    state: broker_stats.metric_name(f"$SYS/broker/clients/{state}")
    for state in ("connected", "disconnected")
}
BROKER_MESSAGES = {
    what: broker_stats.metric_name(f"$SYS/broker/publish/messages/{what}")
    for what in ("received", "sent", "dropped")
}

_UNITS = {"celsius": "celsius", "volts": "volt", "seconds": "s", "bytes": "bytes", "dBm": "dBm"}
"""The contract's units in Grafana's unit ids."""
_DISPLAY_UNITS = {units.CELSIUS: "celsius", units.FAHRENHEIT: "fahrenheit"}
"""The site's temperature unit in Grafana's unit ids."""


def directory(site: Site) -> PurePosixPath:
    return user_path(site, ".config", "sensor-pipeline", NAME)


def render(context: RenderContext) -> list[RenderedFile]:
    site = context.site
    built = {"furnace": furnace(site), "device-health": device_health(site)}
    built["pipeline-health"] = pipeline_health(site)
    return [
        RenderedFile(directory(site) / f"{name}.json", to_json(board), service=NAME)
        for name, board in built.items()
    ]


def to_json(board: dashboard.Dashboard) -> str:
    built = board.build()
    # Grafana tells panels (and their links and state) apart by id; the builders leave it unset.
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    return JSONEncoder(sort_keys=True, indent=2).encode(built) + "\n"


def _base(site: Site, kind: str, title: str) -> dashboard.Dashboard:
    # Opens on Grafana Cloud's hosted Prometheus, where Vector and Alloy send every series.
    default = site.dashboards.datasource_uid
    datasource = (
        dashboard.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(VariableOption(selected=True, text=default, value=default))
    )
    return (
        dashboard.Dashboard(f"{title} — {site.studio}")
        .uid(f"{kind}-{site.studio}"[:40])
        .tags(["sensor-pipeline", site.studio])
        .time("now-6h", "now")
        .refresh("30s")
        .with_variable(datasource)
    )


def _query(expr: str, legend: str, ref_id: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id)


def _broker_queries(site: Site, exprs: dict[str, str]) -> list[prometheus.Dataquery]:
    """One query per legend; each empty once the broker stops publishing (its uptime stalls:
    Vector's exporter keeps the last values, since Mosquitto publishes only changes)."""
    fresh = f"changes({BROKER_UPTIME}{{{matchers(site)}}}[1m]) > 0"
    return [
        _query(f"({expr}) and on() {fresh}", legend, chr(ord("A") + index))
        for index, (legend, expr) in enumerate(exprs.items())
    ]


def _series(
    title: str, queries: Sequence[prometheus.Dataquery], unit: str = "", description: str = ""
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .height(HEIGHT)
        .span(WIDTH // 2)
        .unit(unit)
        .description(description)
    )
    for query in queries:
        panel = panel.with_target(query)
    return panel


def _threshold_lines(panel: timeseries.Panel, steps: list[Threshold]) -> timeseries.Panel:
    """The thresholds drawn as lines across the graph."""
    config = dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)
    style = GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.LINE)
    return panel.thresholds(config).thresholds_style(style)


def _temperature(site: Site, expr: str) -> tuple[str, str]:
    """The query in the site's unit, and that unit's Grafana id."""
    unit = site.alerts.temperature_unit
    return units.query_in_unit(expr, unit), _DISPLAY_UNITS[unit]


def _degrees(site: Site, celsius: float) -> float:
    return units.in_unit(celsius, site.alerts.temperature_unit)


def furnace(site: Site) -> dashboard.Dashboard:
    alerts = (
        dashboard.AnnotationQuery()
        .name("Alerts")
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color("red")
        .expr(f'ALERTS{{alertstate="firing", {matchers(site)}}}')
    )
    board = _base(site, "furnace", "Furnaces").annotation(alerts)
    for device in site.devices:
        board = board.with_row(dashboard.Row(_device_title(device)))
        for panel in _furnace_panels(site, device):
            board = board.with_panel(panel)
    return board


def _device_title(device: Device) -> str:
    return f"{device.name} ({device.id})" if device.name else device.id


def _furnace_panels(site: Site, device: Device) -> list[timeseries.Panel]:
    where = matchers(site, device.id)
    limits = device.thresholds
    expr, unit = _temperature(site, f"{promql.TEMPERATURE}{{{where}}}")
    temperature = _threshold_lines(
        _series("Temperature", [_query(expr, "temperature")], unit),
        [
            Threshold(None, "blue"),
            Threshold(_degrees(site, limits.too_cold_c), "green"),
            Threshold(_degrees(site, limits.too_hot_c), "red"),
        ],
    )
    flame = _threshold_lines(
        _series(
            "Flame signal",
            [_query(f"{promql.FLAME}{{{where}}}", "flame rod")],
            "volt",
            "Below the red line there is no flame. A monitor, not the flame safeguard.",
        ),
        [Threshold(None, "red"), Threshold(limits.flame_min_v, "green")],
    )
    cj_expr, cj_unit = _temperature(site, f"{promql.COLD_JUNCTION}{{{where}}}")
    cold_junction = _series("Cold junction (board)", [_query(cj_expr, "cold junction")], cj_unit)
    faults = _series(
        "Thermocouple faults",
        [
            _query(
                f"{promql.FAULT}{{{where}}} > 0",
                f"{{{{{FAULT_TAG}}}}}",
            )
        ],
        description="Each line is a fault flag that is set (1).",
    )
    return [temperature, flame, cold_junction, faults]


def device_health(site: Site) -> dashboard.Dashboard:
    where = matchers(site)
    board = _base(site, "devices", "Device health").with_panel(
        statetimeline.Panel()
        .title("Online (the broker's retained status)")
        .datasource(DATASOURCE)
        .height(HEIGHT)
        .span(WIDTH)
        .with_target(_query(f"last_over_time({ONLINE}{{{where}}}[1h])", "{{device}}"))
    )
    for field in HEALTH_FIELDS:
        if field.metric is None:
            continue
        name = full_metric_name(field)
        if field.kind == "counter":
            expr, title = f"increase({name}{{{where}}}[1h])", f"{field.help} (per hour)"
        else:
            expr, title = f"{name}{{{where}}}", field.help
        board = board.with_panel(
            _series(title, [_query(expr, "{{device}}")], _UNITS.get(field.unit, ""), name)
        )
    return board


def pipeline_health(site: Site) -> dashboard.Dashboard:
    where = matchers(site)
    jobs = "|".join(alloy.JOBS)
    sequence = promql.SEQUENCE
    panels = [
        _series(
            "Readings stored per minute",
            [_query(f"count_over_time({sequence}{{{where}}}[1m])", "{{device}}")],
            description="What reaches VictoriaMetrics from each device; flat at zero while "
            "the device is online means the pipeline stalled.",
        ),
        _series(
            "Dead letters by reason (per hour)",
            [_query(dead_letters.per_hour("reason", where), "{{reason}}")],
            description="Payloads the pipeline refused; samples are in Vector's dead-letters "
            "directory.",
        ),
        *(
            _series(
                "Vector: "
                + counter.removeprefix("vector_component_").removesuffix("_total").replace("_", " ")
                + " per second",
                [_query(f"sum by (component_id) (rate({counter}[5m]))", "{{component_id}}")],
            )
            for counter in VECTOR_COUNTERS
        ),
        _series(
            "Vector: buffered events",
            [_query(f"sum by (component_id) ({VECTOR_BUFFER})", "{{component_id}}")],
        ),
        _series(
            "Broker: clients",
            _broker_queries(
                site, {state: f"{name}{{{where}}}" for state, name in BROKER_CLIENTS.items()}
            ),
            description="Disconnected: persistent sessions the broker keeps for a client "
            "that is away (the pipeline's queue grows there).",
        ),
        _series(
            "Broker: messages per second",
            _broker_queries(
                site,
                {what: f"rate({name}{{{where}}}[5m])" for what, name in BROKER_MESSAGES.items()},
            ),
            description="Dropped: messages the broker discarded (a client's queue full).",
        ),
    ]
    # Full width first: the layout places half-width panels in pairs after it.
    board = _base(site, "pipeline", "Pipeline health").with_panel(
        statetimeline.Panel()
        .title("Services answering (up, via Alloy; mosquitto: the broker accepts connections)")
        .datasource(DATASOURCE)
        .height(HEIGHT)
        .span(WIDTH)
        .with_target(_query(f'up{{job=~"{jobs}", {where}}}', "{{job}}"))
    )
    for panel in panels:
        board = board.with_panel(panel)
    return board
