"""Vector's second destination: Grafana Cloud's hosted Prometheus, besides the Pi's store.

Added to ``vector.yaml`` when the secrets file has ``[grafana_cloud]``::

    to_metrics, count_dead_letters ─► cloud_furnace (remap: namespace "furnace") ─┐
    vector_internal ─► cloud_vector_metrics (remap: the dashboards' five, + studio) ─┤
    alerts_from_victoriametrics (prometheus_scrape of VM's /federate, ALERTS) ──────┴─►
        grafana_cloud (prometheus_remote_write, its own disk buffer)

Why this way:

* Routing stays in Vector (the roadmap's choice): one more sink, fed by the same events as the
  ``victoriametrics`` sink. The Pi's VictoriaMetrics stays the 100-year archive and the alerting
  source; the cloud sink never holds it back: its buffer drops the newest events when full
  (``when_full: drop_newest``) instead of blocking, which would stall the shared transforms
  and so the local store too (Vector's buffering model, website/content/en/docs/architecture/
  buffering-model.md, "When full" behavior).
* Its own disk buffer (lib/vector-buffers; the same model): what waits for the cloud survives a
  restart of Vector, and an outage back-fills oldest first. ``request.concurrency: 1`` keeps one
  request in flight, so batches arrive in the order they were buffered (Grafana Cloud's Mimir
  refuses a sample older than the newest of its series); a failed request is retried until it
  succeeds (``retry_attempts`` defaults to isize::MAX, src/sinks/util/service.rs).
* ``ALERTS``: vmalert writes them to VictoriaMetrics only (``-remoteWrite.url`` takes one
  URL). Vector scrapes VictoriaMetrics' Prometheus-compatible ``/federate`` for them (the
  ``prometheus_scrape`` source's ``query`` option exists for ``/federate``,
  src/sources/prometheus/scrape.rs) and keeps each sample's own timestamp
  (src/sources/prometheus/parser.rs). So they ride the same buffer, and vmalert keeps writing to
  its store directly: the alerting does not depend on Vector or the internet.
* The sink's ``default_namespace`` would prefix ``ALERTS`` too (it applies to every metric
  without a namespace, src/sinks/prometheus/remote_write/config.rs); so the furnace events get
  their namespace from ``cloud_furnace`` instead, and the same names arrive in both stores.
* Only the Vector metrics the pipeline dashboard shows go up, tagged with the studio: all of
  Vector's internal metrics would be hundreds of series per Pi against a 10,000 free tier.
"""

from __future__ import annotations

from typing import Any

from sensor_bridge.alerting import rules as alert_rules
from sensor_bridge.render import vector_secrets
from sensor_bridge.render.vrl import vrl_string
from sensor_bridge.site import Site
from sensor_node.settings import SETTINGS
from sensor_protocol.fields import (
    CONTRACT_METRICS,
    FAULT_BITS,
    HEALTH_FIELDS,
    METRIC_NAMESPACE,
    READING_FIELDS,
    Field,
)

SINK = "grafana_cloud"
FURNACE = "cloud_furnace"
VECTOR_METRICS = "cloud_vector_metrics"
ALERTS_SOURCE = "alerts_from_victoriametrics"
ALERTS_SCRAPE_INTERVAL_S = 15
ALERTS_MATCH = '{__name__="ALERTS"}'

VECTOR_NAMESPACE = "vector"
VECTOR_METRIC_NAMES = (
    "component_received_events_total",
    "component_sent_events_total",
    "component_errors_total",
    "component_discarded_events_total",
    "buffer_size_events",
)
"""What the pipeline-health dashboard shows of Vector (``render.dashboards``)."""

REQUEST_CONCURRENCY = 1
BATCH_MAX_EVENTS = 1000


def add_to(config: dict[str, Any], site: Site) -> None:
    """Add the cloud branch to ``config`` (``render.vector.config``'s data), in place."""
    config["sources"][ALERTS_SOURCE] = {
        "type": "prometheus_scrape",
        "endpoints": [site.storage.urls.federate],
        "query": {"match[]": [ALERTS_MATCH]},
        "scrape_interval_secs": ALERTS_SCRAPE_INTERVAL_S,
        # The labels vmalert gave them (alertname, alertstate, studio, device...) as they are.
        "honor_labels": True,
    }
    victoriametrics_sink = config["sinks"]["victoriametrics"]
    config["transforms"][FURNACE] = {
        "type": "remap",
        "inputs": list(victoriametrics_sink["inputs"]),
        "source": furnace_program(),
    }
    config["transforms"][VECTOR_METRICS] = {
        "type": "remap",
        "inputs": list(config["sinks"]["vector_metrics"]["inputs"]),
        "source": vector_metrics_program(site),
    }
    secret = vector_secrets.reference
    config["sinks"][SINK] = {
        "type": "prometheus_remote_write",
        "inputs": [FURNACE, VECTOR_METRICS, ALERTS_SOURCE],
        "endpoint": secret(vector_secrets.CLOUD_URL),
        "auth": {
            "strategy": "basic",
            "user": secret(vector_secrets.CLOUD_USER),
            "password": secret(vector_secrets.CLOUD_TOKEN),
        },
        # An outage at start must not matter: the buffer waits, the check only logs.
        "healthcheck": {"enabled": False},
        "batch": {"max_events": BATCH_MAX_EVENTS},
        # One request in flight: the back-fill arrives in the order it was buffered.
        "request": {"concurrency": REQUEST_CONCURRENCY},
        "buffer": {
            "type": "disk",
            "max_size": site.pipeline.cloud_buffer_bytes,
            # Never block: a full cloud buffer must not hold back the Pi's own store.
            "when_full": "drop_newest",
        },
    }


def furnace_program() -> str:
    """The furnace series' namespace, which the local sink gives as its default."""
    return f"if .namespace == null {{ .namespace = {vrl_string(METRIC_NAMESPACE)} }}"


def vector_metrics_program(site: Site) -> str:
    """Only the dashboard's Vector metrics, each with the studio (Alloy's series have it)."""
    names = ", ".join(vrl_string(name) for name in VECTOR_METRIC_NAMES)
    return "\n".join(
        [
            f"if .namespace != {vrl_string(VECTOR_NAMESPACE)} || !includes([{names}], .name) {{",
            "  abort",
            "}",
            f".tags.studio = {vrl_string(site.studio)}",
        ]
    )


# --- what it costs in Grafana Cloud ----------------------------------------------------------

FREE_TIER_ACTIVE_SERIES = 10_000
"""Grafana Cloud's free tier: 10,000 active metric series."""


def series_per_device(site: Site, device_id: str) -> dict[str, int]:
    """Active series one furnace's device sends to the cloud, by kind, from the field table
    (a ``flags`` field is one 0/1 series per fault bit) and the rendered rules (at most one
    ``ALERTS`` series per rule and state, pending and firing)."""

    def count(table: tuple[Field, ...]) -> int:
        return sum(len(FAULT_BITS) if f.kind == "flags" else 1 for f in table if f.metric)

    rules = [
        rule
        for group in alert_rules.rules(site)["groups"]
        for rule in group["rules"]
        if rule["labels"].get("device") == device_id
    ]
    return {
        "readings": count(READING_FIELDS),
        "health": count(HEALTH_FIELDS),
        "status": len(CONTRACT_METRICS),
        "alerts": 2 * len(rules),
    }


def samples_per_hour(series: dict[str, int]) -> int:
    """Samples one device's readings and health give in an hour at the firmware's default
    periods (what its share of the cloud buffer must hold per hour of outage)."""
    period = {setting.key: setting.default for setting in SETTINGS}
    readings = series["readings"] * 3600 / period["SAMPLE_PERIOD_S"]
    health = series["health"] * 3600 / period["HEALTH_PERIOD_S"]
    return int(readings + health)
