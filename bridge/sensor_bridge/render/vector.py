"""Vector: MQTT in, metrics out to VictoriaMetrics, everything else to the dead letters.

The pipeline (``vector.yaml``)::

    devices (mqtt) ─► decode (remap: VRL from the contract) ─► sort (route)
      sort.telemetry, .backfill, .health, .status ─► to_metrics (log_to_metric, all_metrics)
          ─► victoriametrics (prometheus_remote_write, disk buffer)
      sort.dead_letter ─► count_dead_letters (log_to_metric) ─► victoriametrics
                       ─► sample_dead_letters (throttle) ─► dead_letter_files (file, hourly)
    vector_internal (internal_metrics) ─► vector_metrics (prometheus_remote_write, memory buffer)
    broker_stats (mqtt, $SYS/broker/#) ─► decode_broker_stats (remap) ─► broker_stats_to_metrics
          ─► broker_stats_exporter (prometheus_exporter, loopback; Alloy scrapes it)

The last line is the broker's own statistics, for Alloy (``render.broker_stats``).

With ``[grafana_cloud]`` in the secrets file, the same furnace, health and pipeline series and
vmalert's ``ALERTS`` also go to Grafana Cloud, through a second sink with its own disk buffer
(``render.vector_cloud``).

Choices the MQTT source forces (it subscribes once and never again, has no acknowledgements and
drops packets over its limit): a fixed client id from the site, which is also its account's
username (the broker keeps its persistent session, and no other login can take it over:
``mqtt_accounts``), the limit raised to the contract's ``PIPELINE_MAX_PACKET_BYTES``, and each
source's password from Vector's secret backend (``secrets.json``, mode 0600), never in the
config and never through environment interpolation, which Vector 0.57 leaves off
(``render.vector_secrets``). Every ``$`` is written once: ``$SYS/broker/#`` is the topic as
Mosquitto knows it.

Dead letters are counted in ``furnace_pipeline_dead_letters_total{reason}`` (every one) and a
sample of them is kept in hourly files for inspection, bounded in bytes by real mechanisms: the
throttle caps how many are written per hour (a dead letter is at most
``MAX_DEAD_LETTER_BYTES``: the decode program truncates topic and payload), and the user's
``systemd-tmpfiles-clean.timer`` deletes files not written for ``DEAD_LETTER_KEEP_DAYS``
(``user-tmpfiles.d/sensor-pipeline-vector.conf``). See ``dead_letters_per_hour``.
"""

from __future__ import annotations

import base64
from pathlib import PurePosixPath
from typing import Any

import yaml

from sensor_bridge import mqtt_accounts
from sensor_bridge.errors import SiteError
from sensor_bridge.registry import RESTART, VECTOR
from sensor_bridge.render import (
    RenderContext,
    RenderedFile,
    broker_stats,
    user_path,
    vector_cloud,
    vector_secrets,
    victoriametrics,
)
from sensor_bridge.render import examples as contract_examples
from sensor_bridge.render.mosquitto import broker_host
from sensor_bridge.render.quadlets import STOP_MARGIN_S, Container, container_file
from sensor_bridge.render.vrl import DEAD_LETTER_METRIC, decode_program, vrl_literal, vrl_string
from sensor_bridge.site import Site
from sensor_protocol import topics
from sensor_protocol.fields import METRIC_NAMESPACE
from sensor_protocol.limits import PIPELINE_MAX_PACKET_BYTES

NAME = VECTOR.name
API_ADDRESS = "127.0.0.1:8686"
"""Vector's API (``/health``, ``vector top``, ``vector tap``): loopback only, it has no auth."""

CONTAINER_CONFIG = PurePosixPath("/etc/vector")
CONTAINER_DATA = PurePosixPath("/var/lib/vector")
DEAD_LETTER_DIR = "dead-letters"
DEAD_LETTER_KEEP_DAYS = 2
MAX_DEAD_LETTER_BYTES = 8192
"""Upper bound of one dead letter as the file sink writes it (JSON, one line); a test holds the
decode program's truncation to it."""
INTERNAL_METRICS_INTERVAL_S = 15
GRACEFUL_SHUTDOWN_S = 60
"""How long Vector drains on SIGTERM (``--graceful-shutdown-limit-secs``; 60 is also its
default, src/cli.rs): readings the broker already handed over reach the disk buffer or the
store. Set explicitly so the quadlet's StopTimeout follows it."""

ROUTE = "sort"
DEAD_LETTER_ROUTE = "dead_letter"
CHANNEL_ROUTES = topics.CHANNELS
"""One route per channel, so ``vector tap --outputs-of sort.backfill`` shows one kind only."""


def config_dir(site: Site) -> PurePosixPath:
    return user_path(site, ".config", "sensor-pipeline", NAME)


def tmpfiles_path(site: Site) -> PurePosixPath:
    return user_path(site, ".config", "user-tmpfiles.d", "sensor-pipeline-vector.conf")


def render(context: RenderContext) -> list[RenderedFile]:
    site = context.site
    directory = config_dir(site)
    to_cloud = context.secrets.grafana_cloud is not None
    return [
        RenderedFile(
            directory / "vector.yaml", to_yaml(config(site, to_cloud)), check=NAME, service=NAME
        ),
        RenderedFile(directory / "tests.yaml", to_yaml(unit_tests(site)), check=NAME, service=NAME),
        # Read by Vector's file secret backend; under the service user's home, so its file.
        RenderedFile(
            directory / vector_secrets.FILE_NAME,
            vector_secrets.file_text(site, context.secrets),
            mode=0o600,
            secret=True,
            service=NAME,
        ),
        RenderedFile(tmpfiles_path(site), tmpfiles_conf(site), check=NAME, service=NAME),
        container_file(site, container(site), service=NAME, check="quadlet"),
    ]


def address(site: Site) -> str:
    return API_ADDRESS


def on_change(path: PurePosixPath) -> str | None:
    """Its tests are read by ``vector test`` only, its tmpfiles rule by the user's cleanup
    timer: neither restarts it."""
    if path.name == "tests.yaml" or path.suffix == ".conf":
        return None
    return RESTART


def mqtt_topics(site: Site) -> list[str]:
    """Every device's topic filter: the pipeline reads exactly the site's devices."""
    return [topics.device_filter(site.topic_root, site.studio, d.id) for d in site.devices]


def dead_letters_per_hour(site: Site) -> int:
    """The throttle's threshold that keeps the dead-letter files under the site's bound.

    The throttle lets ``n`` events through at once and then ``n`` per hour, so any span of ``h``
    hours holds at most ``n * (h + 1)``. A file is deleted once it has not been written for
    ``DEAD_LETTER_KEEP_DAYS``, by a timer that runs daily: the files on disk span at most
    ``DEAD_LETTER_KEEP_DAYS + 1`` days plus the hour being written.
    """
    span_hours = (DEAD_LETTER_KEEP_DAYS + 1) * 24 + 1
    per_hour = site.pipeline.dead_letter_max_bytes // ((span_hours + 1) * MAX_DEAD_LETTER_BYTES)
    if per_hour < 1:
        needed = (span_hours + 1) * MAX_DEAD_LETTER_BYTES
        raise SiteError(
            f"{site.path}: pipeline.dead_letter_max_bytes must be at least {needed} to keep "
            f"one dead letter an hour for {DEAD_LETTER_KEEP_DAYS} days"
        )
    return per_hour


def config(site: Site, to_cloud: bool = False) -> dict[str, Any]:
    """vector.yaml as data, for the file and for tests that run it with other endpoints;
    ``to_cloud`` adds the Grafana Cloud branch (``render.vector_cloud``)."""
    data = _local_config(site)
    if to_cloud:
        vector_cloud.add_to(data, site)
    return data


def _local_config(site: Site) -> dict[str, Any]:
    remote_write = site.storage.urls.remote_write
    dead_letters = CONTAINER_DATA / DEAD_LETTER_DIR / "%Y-%m-%dT%H.jsonl"
    routes = {channel: _channel_condition(channel) for channel in CHANNEL_ROUTES}
    routes[DEAD_LETTER_ROUTE] = "!exists(.name)"
    return {
        "data_dir": str(CONTAINER_DATA),
        "api": {"enabled": True, "address": API_ADDRESS},
        "secret": {vector_secrets.BACKEND: vector_secrets.backend()},
        "sources": {
            "devices": {
                "type": "mqtt",
                "host": broker_host(site),
                "port": site.broker.plain_port,
                # The broker takes the username as the client id; the same here says so.
                "client_id": mqtt_accounts.vector_user(site),
                "user": mqtt_accounts.vector_user(site),
                "password": vector_secrets.reference(vector_secrets.MQTT_PASSWORD),
                "topic": mqtt_topics(site),
                "max_packet_size": PIPELINE_MAX_PACKET_BYTES,
            },
            "vector_internal": {
                "type": "internal_metrics",
                "scrape_interval_secs": INTERNAL_METRICS_INTERVAL_S,
            },
            broker_stats.SOURCE: {
                "type": "mqtt",
                "host": broker_host(site),
                "port": site.broker.plain_port,
                "client_id": broker_stats.client_id(site),
                "user": broker_stats.client_id(site),
                "password": vector_secrets.reference(vector_secrets.MQTT_SYS_PASSWORD),
                "topic": broker_stats.TOPIC,
            },
        },
        "transforms": {
            "decode": {"type": "remap", "inputs": ["devices"], "source": decode_program(site)},
            ROUTE: {"type": "route", "inputs": ["decode"], "route": routes},
            "to_metrics": {
                "type": "log_to_metric",
                "inputs": [f"{ROUTE}.{channel}" for channel in CHANNEL_ROUTES],
                "all_metrics": True,
                "metrics": [],
            },
            "count_dead_letters": {
                "type": "log_to_metric",
                "inputs": [f"{ROUTE}.{DEAD_LETTER_ROUTE}"],
                "metrics": [
                    {
                        "type": "counter",
                        # Every event has a timestamp: each dead letter counts, whatever it lacks.
                        "field": "timestamp",
                        "name": DEAD_LETTER_METRIC,
                        "tags": {
                            tag: "{{ " + tag + " }}" for tag in ("reason", "studio", "device")
                        },
                    }
                ],
            },
            "sample_dead_letters": {
                "type": "throttle",
                "inputs": [f"{ROUTE}.{DEAD_LETTER_ROUTE}"],
                "threshold": dead_letters_per_hour(site),
                "window_secs": 3600,
            },
            broker_stats.TRANSFORM: {
                "type": "remap",
                "inputs": [broker_stats.SOURCE],
                "source": broker_stats.program(),
            },
            broker_stats.TO_METRICS: {
                "type": "log_to_metric",
                "inputs": [broker_stats.TRANSFORM],
                "all_metrics": True,
                "metrics": [],
            },
        },
        "sinks": {
            "victoriametrics": {
                "type": "prometheus_remote_write",
                "inputs": ["to_metrics", "count_dead_letters"],
                "endpoint": remote_write,
                "default_namespace": METRIC_NAMESPACE,
                # Its check GETs the write endpoint, which VictoriaMetrics refuses.
                "healthcheck": {"enabled": False},
                # While VictoriaMetrics restarts, samples wait on disk instead of being lost.
                "buffer": {
                    "type": "disk",
                    "max_size": site.pipeline.disk_buffer_bytes,
                    "when_full": "block",
                },
            },
            "vector_metrics": {
                "type": "prometheus_remote_write",
                "inputs": ["vector_internal"],
                "endpoint": remote_write,
                "healthcheck": {"enabled": False},
                # Self-monitoring may lose samples; it must never hold the data back.
                "buffer": {"type": "memory", "max_events": 10000, "when_full": "drop_newest"},
            },
            "dead_letter_files": {
                "type": "file",
                "inputs": ["sample_dead_letters"],
                "path": str(dead_letters),
                "timezone": "UTC",
                "encoding": {"codec": "json"},
            },
            broker_stats.SINK: {
                "type": "prometheus_exporter",
                "inputs": [broker_stats.TO_METRICS],
                "address": broker_stats.EXPORTER_ADDRESS,
                "flush_period_secs": broker_stats.EXPORTER_FLUSH_PERIOD_S,
                # The values are the broker's current state, whenever they were published.
                "suppress_timestamp": True,
            },
        },
    }


def _channel_condition(channel: str) -> str:
    return f"exists(.name) && .channel == {vrl_string(channel)}"


def unit_tests(site: Site) -> dict[str, Any]:
    """``vector test`` cases from the contract's examples: what each must become."""
    tests = [_unit_test(example) for example in contract_examples.examples(site)]
    return {"tests": tests + [_broker_stats_test(example) for example in broker_stats.EXAMPLES]}


def _unit_test(example: contract_examples.Example) -> dict[str, Any]:
    message = base64.b64encode(example.payload).decode()
    source = "\n".join(
        [
            f".message = decode_base64!({vrl_string(message)})",
            f".topic = {vrl_string(example.topic)}",
            f".timestamp = {vrl_literal(example.received)}",
        ]
    )
    test: dict[str, Any] = {
        "name": example.name,
        "inputs": [{"insert_at": "decode", "type": "vrl", "source": source}],
    }
    channel_outputs = [f"{ROUTE}.{channel}" for channel in CHANNEL_ROUTES]
    if example.reason is not None:
        reason = vrl_string(example.reason)
        test["outputs"] = [
            _output(f"{ROUTE}.{DEAD_LETTER_ROUTE}", [f".reason == {reason}"]),
            _output(
                "count_dead_letters",
                [f".name == {vrl_string(DEAD_LETTER_METRIC)} && .tags.reason == {reason}"],
            ),
        ]
        test["no_outputs_from"] = channel_outputs
        return test
    names = sorted({event["name"] for event in example.events})
    test["outputs"] = [
        # Each expected event must come out exactly as the contract says.
        _output(f"{ROUTE}.{example.channel}", [f". == {vrl_literal(e)}" for e in example.events]),
        _output("to_metrics", [f'.name == {vrl_string(n)} && .kind == "absolute"' for n in names]),
    ]
    test["no_outputs_from"] = [f"{ROUTE}.{DEAD_LETTER_ROUTE}"]
    return test


def _broker_stats_test(example: broker_stats.Example) -> dict[str, Any]:
    source = f".message = {vrl_string(example.payload)}\n.topic = {vrl_string(example.topic)}"
    test: dict[str, Any] = {
        "name": example.name,
        "inputs": [{"insert_at": broker_stats.TRANSFORM, "type": "vrl", "source": source}],
    }
    if example.gauge is None:
        test["no_outputs_from"] = [broker_stats.TRANSFORM]
        return test
    name, value = (vrl_literal(item) for item in example.gauge)
    test["outputs"] = [
        _output(
            broker_stats.TRANSFORM,
            [f'.name == {name} && .kind == "absolute" && .gauge.value == {value}'],
        ),
        _output(broker_stats.TO_METRICS, [f'.name == {name} && .kind == "absolute"']),
    ]
    return test


def _output(extract_from: str, conditions: list[str]) -> dict[str, Any]:
    return {
        "extract_from": extract_from,
        "conditions": [{"type": "vrl", "source": source} for source in conditions],
    }


def container(site: Site) -> Container:
    on_host = config_dir(site)
    return Container(
        name=NAME,
        description="Vector: furnace readings from MQTT to VictoriaMetrics (sensor-pipeline)",
        image=site.pipeline.image,
        exec_args=[
            "--config",
            str(CONTAINER_CONFIG / "vector.yaml"),
            "--graceful-shutdown-limit-secs",
            str(GRACEFUL_SHUTDOWN_S),
        ],
        stop_timeout_s=GRACEFUL_SHUTDOWN_S + STOP_MARGIN_S,
        # The host's loopback: the broker, VictoriaMetrics, and the API bound to 127.0.0.1.
        network="host",
        volumes=[
            f"/{on_host}:{CONTAINER_CONFIG}:ro",
            f"{site.pipeline.data_path}:{CONTAINER_DATA}",
        ],
        # Vector's file secret backend opens its relative path here (render.vector_secrets).
        working_dir=str(CONTAINER_CONFIG),
        # The image has bash but no HTTP client: ask the API's /health over bash's /dev/tcp.
        health_cmd=(
            f"bash -c 'exec 3<>/dev/tcp/{API_ADDRESS.replace(':', '/')} && "
            "echo GET /health HTTP/1.0 >&3 && echo >&3 && head -n 1 <&3 | grep -q 200'"
        ),
        after=victoriametrics.after(site),
    )


def tmpfiles_conf(site: Site) -> str:
    """Age-based cleanup of the dead-letter files, by the user's systemd-tmpfiles-clean.timer."""
    directory = site.pipeline.data_path / DEAD_LETTER_DIR
    return (
        "# Rendered by sensor-bridge from the site file; edits here are overwritten.\n"
        "# Dead letters are kept for inspection: a file not written for this long is deleted.\n"
        f"d {directory} 0700 - - m:{DEAD_LETTER_KEEP_DAYS}d\n"
    )


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line text (VRL programs) as literal blocks, readable on the Pi."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    # Vector 0.57 reads every $ as written (no environment interpolation): no escaping.
    style = "|" if "\n" in text else None
    if isinstance(text, vector_secrets.SecretRef):
        # Vector pastes the secret into the text before parsing: quoted, it stays one string.
        style = "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(text), style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(vector_secrets.SecretRef, _represent_str)


def to_yaml(data: dict[str, Any]) -> str:
    header = "# Rendered by sensor-bridge from the site file; edits here are overwritten.\n"
    # Wide lines: a VRL condition stays on one line, greppable.
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 16)
    return header + text
