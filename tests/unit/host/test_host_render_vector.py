"""Vector's rendered files: vector.yaml, tests.yaml, secrets.json, tmpfiles rule, quadlet."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from sensor_bridge import mqtt_accounts
from sensor_bridge.checks.vector import load
from sensor_bridge.checks.victoriametrics import unit_values
from sensor_bridge.errors import SiteError
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext, RenderedFile, broker_stats, vector
from sensor_bridge.render import examples as contract
from sensor_bridge.render.vrl import decode_program
from sensor_bridge.site import VECTOR_VERSION, Secrets, Site
from sensor_protocol.limits import PIPELINE_MAX_PACKET_BYTES

CONFIG_DIR = PurePosixPath("home/sensor/.config/sensor-pipeline/vector")


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path)


@pytest.fixture
def files(context: RenderContext) -> dict[str, RenderedFile]:
    return {f.path.name: f for f in vector.render(context)}


@pytest.fixture
def config(files: dict[str, RenderedFile]) -> dict[str, Any]:
    return load(files["vector.yaml"].text)


def test_paths_modes_and_checkers(files: dict[str, RenderedFile]) -> None:
    assert {name: (str(f.path), f.mode, f.secret, f.check) for name, f in files.items()} == {
        "vector.yaml": (str(CONFIG_DIR / "vector.yaml"), 0o644, False, "vector"),
        "tests.yaml": (str(CONFIG_DIR / "tests.yaml"), 0o644, False, "vector"),
        "secrets.json": (str(CONFIG_DIR / "secrets.json"), 0o600, True, None),
        "sensor-pipeline-vector.conf": (
            "home/sensor/.config/user-tmpfiles.d/sensor-pipeline-vector.conf",
            0o644,
            False,
            "vector",
        ),
        "vector.container": (
            "home/sensor/.config/containers/systemd/vector.container",
            0o644,
            False,
            "quadlet",
        ),
    }


def test_rendering_twice_is_byte_identical(context: RenderContext) -> None:
    assert vector.render(context) == vector.render(context)


def test_mqtt_source_subscribes_like_the_broker_expects(config: dict[str, Any]) -> None:
    assert config["sources"]["devices"] == {
        "type": "mqtt",
        "host": "127.0.0.1",
        "port": 1883,
        "client_id": "sensor-pipeline-vector",
        "user": "sensor-pipeline-vector",
        "password": "SECRET[sensor_pipeline.mqtt_password]",
        "topic": ["furnace/studio-1/furnace-1/+", "furnace/studio-1/glory-hole/+"],
        "max_packet_size": PIPELINE_MAX_PACKET_BYTES,
    }


def test_the_password_is_only_in_the_secrets_file(
    context: RenderContext, files: dict[str, RenderedFile]
) -> None:
    passwords = {
        "mqtt_password": mqtt_accounts.password(context.secrets, "sensor-pipeline-vector"),
        "mqtt_sys_password": mqtt_accounts.password(context.secrets, "sensor-pipeline-vector-sys"),
    }
    assert json.loads(files["secrets.json"].text) == passwords
    for password in [*passwords.values(), context.secrets.pipeline_password()]:
        assert all(password not in f.text for name, f in files.items() if name != "secrets.json")


def test_vector_reads_secrets_from_a_file_backend_beside_its_config(
    config: dict[str, Any],
) -> None:
    # src/secrets/file.rs: one JSON object; the path relative to the working directory.
    assert config["secret"] == {"sensor_pipeline": {"type": "file", "path": "secrets.json"}}


def test_metrics_go_to_victoriametrics_with_a_disk_buffer(config: dict[str, Any]) -> None:
    sink = config["sinks"]["victoriametrics"]
    assert sink["type"] == "prometheus_remote_write"
    assert sink["endpoint"] == "http://127.0.0.1:8428/api/v1/write"
    assert sink["default_namespace"] == "furnace"
    assert sink["buffer"] == {"type": "disk", "max_size": 268435488, "when_full": "block"}
    assert sink["inputs"] == ["to_metrics", "count_dead_letters"]
    assert config["sinks"]["vector_metrics"]["inputs"] == ["vector_internal"]
    assert config["sources"]["vector_internal"]["type"] == "internal_metrics"
    assert config["api"] == {"enabled": True, "address": "127.0.0.1:8686"}


def test_routes_by_channel_and_validity(config: dict[str, Any]) -> None:
    transforms = config["transforms"]
    assert transforms["sort"]["route"] == {
        "telemetry": 'exists(.name) && .channel == "telemetry"',
        "backfill": 'exists(.name) && .channel == "backfill"',
        "health": 'exists(.name) && .channel == "health"',
        "status": 'exists(.name) && .channel == "status"',
        "dead_letter": "!exists(.name)",
    }
    assert transforms["to_metrics"]["all_metrics"] is True
    assert transforms["count_dead_letters"]["metrics"][0]["tags"]["reason"] == "{{ reason }}"
    assert config["sinks"]["dead_letter_files"]["inputs"] == ["sample_dead_letters"]


def test_the_vrl_survives_yaml_with_every_dollar_written_once(tmp_path: Path) -> None:
    """A device name with $ and {{ }}: Vector 0.57 reads $HOME as written (no interpolation)."""
    context = example_context(tmp_path)
    site = Site.model_validate(
        {
            **context.site.model_dump(mode="json"),
            "devices": [
                {"id": "kiln", "board": context.site.devices[0].board, "name": "$HOME {{x}}"}
            ],
        }
    )
    (yaml_file, *_) = vector.render(RenderContext(site, context.secrets))
    assert "$HOME" in yaml_file.text and "$$" not in yaml_file.text
    assert load(yaml_file.text)["transforms"]["decode"]["source"] == decode_program(site)
    assert "    source: |\n" in yaml_file.text, "the program reads as a block on the Pi"


def test_one_vector_unit_test_per_contract_example(
    context: RenderContext, files: dict[str, RenderedFile]
) -> None:
    cases = [
        c
        for c in load(files["tests.yaml"].text)["tests"]
        if c["inputs"][0]["insert_at"] != broker_stats.TRANSFORM
    ]
    examples = contract.examples(context.site)
    assert [c["name"] for c in cases] == [e.name for e in examples]
    for case, example in zip(cases, examples, strict=True):
        assert case["inputs"][0]["insert_at"] == "decode"
        extracted = [o["extract_from"] for o in case["outputs"]]
        if example.reason is None:
            assert extracted == [f"sort.{example.channel}", "to_metrics"]
            assert len(case["outputs"][0]["conditions"]) == len(example.events)
            assert case["no_outputs_from"] == ["sort.dead_letter"]
        else:
            assert extracted == ["sort.dead_letter", "count_dead_letters"]


def test_dead_letter_files_are_bounded(context: RenderContext, config: dict[str, Any]) -> None:
    per_hour = vector.dead_letters_per_hour(context.site)
    assert config["transforms"]["sample_dead_letters"]["threshold"] == per_hour
    span_hours = (vector.DEAD_LETTER_KEEP_DAYS + 1) * 24 + 1
    worst = per_hour * (span_hours + 1) * vector.MAX_DEAD_LETTER_BYTES
    assert 1 <= per_hour and worst <= context.site.pipeline.dead_letter_max_bytes
    conf = vector.tmpfiles_conf(context.site)
    assert "d /var/lib/sensor-pipeline/vector/dead-letters 0700 - - m:2d\n" in conf


def test_a_bound_too_small_for_one_letter_an_hour_is_a_site_error(context: RenderContext) -> None:
    pipeline = context.site.pipeline.model_copy(update={"dead_letter_max_bytes": 65536})
    site = context.site.model_copy(update={"pipeline": pipeline})
    with pytest.raises(SiteError, match="dead_letter_max_bytes must be at least 606208"):
        vector.render(RenderContext(site, context.secrets))


@pytest.mark.parametrize("token", ["a\nb", "it's"])
def test_a_secret_vector_cannot_paste_into_yaml_is_refused(
    context: RenderContext, token: str
) -> None:
    """Vector pastes a secret into the YAML text before parsing it: in a single-quoted scalar
    only ' and line breaks would change what it reads. (Its MQTT passwords are derived, in
    base64url: never either.)"""
    cloud = {"url": "https://prometheus.example/api/prom/push", "user": "1", "token": token}
    secrets = Secrets.model_validate({"mqtt": {"pipeline": "p"}, "grafana_cloud": cloud})
    with pytest.raises(SiteError, match="grafana_cloud_token holds a ' or a line break") as raised:
        vector.render(RenderContext(context.site, secrets))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("plain_lan", "host"), [(False, "127.0.0.1"), (True, "192.0.2.10")])
def test_the_pipeline_reads_the_plain_listener_where_it_is(
    context: RenderContext, plain_lan: bool, host: str
) -> None:
    update = {"address": "192.0.2.10", "plain_lan": plain_lan}
    broker = context.site.broker.model_copy(update=update)
    site = context.site.model_copy(update={"broker": broker})
    source = vector.config(site)["sources"]["devices"]
    assert (source["host"], source["port"]) == (host, 1883)


def test_quadlet(files: dict[str, RenderedFile]) -> None:
    unit = files["vector.container"].text
    assert unit_values(unit, "Container", "Image") == [
        f"docker.io/timberio/vector:{VECTOR_VERSION}-debian"
    ]
    assert unit_values(unit, "Container", "Network") == ["host"]
    assert unit_values(unit, "Container", "Volume") == [
        f"/{CONFIG_DIR}:/etc/vector:ro",
        "/var/lib/sensor-pipeline/vector:/var/lib/vector",
    ]
    # The secrets file sits in the mounted config dir; the backend's path is relative to here.
    assert unit_values(unit, "Container", "WorkingDir") == ["/etc/vector"]
    # Nothing from the environment: no variables, no interpolation flag.
    assert unit_values(unit, "Container", "EnvironmentFile") == []
    assert unit_values(unit, "Container", "Environment") == []
    assert unit_values(unit, "Container", "Exec") == [
        "--config /etc/vector/vector.yaml --graceful-shutdown-limit-secs 60"
    ]
    (health,) = unit_values(unit, "Container", "HealthCmd")
    assert "/dev/tcp/127.0.0.1/8686" in health and "GET /health" in health
    assert unit_values(unit, "Unit", "After") == ["victoriametrics.service"]


def test_a_stop_waits_for_vectors_drain(files: dict[str, RenderedFile]) -> None:
    """On main podman's 10 s default SIGKILLed Vector during its 60 s drain: readings the
    broker had handed over but not yet in the disk buffer were lost."""
    unit = files["vector.container"].text
    (stop,) = unit_values(unit, "Container", "StopTimeout")
    (systemd_stop,) = unit_values(unit, "Service", "TimeoutStopSec")
    assert int(stop) > vector.GRACEFUL_SHUTDOWN_S
    # systemd must not kill the `podman rm` that waits for the container.
    assert int(systemd_stop) > int(stop)


def test_broker_stats_subscribe_to_sys_in_their_own_session(
    files: dict[str, RenderedFile], config: dict[str, Any]
) -> None:
    assert config["sources"]["broker_stats"] == {
        "type": "mqtt",
        "host": "127.0.0.1",
        "port": 1883,
        "client_id": "sensor-pipeline-vector-sys",
        "user": "sensor-pipeline-vector-sys",
        "password": "SECRET[sensor_pipeline.mqtt_sys_password]",
        "topic": "$SYS/broker/#",
    }
    # Written once: Vector 0.57 no longer turns $$ into $ (no interpolation).
    assert "topic: $SYS/broker/#\n" in files["vector.yaml"].text


def test_broker_stats_become_gauges_on_a_loopback_exporter(config: dict[str, Any]) -> None:
    transforms, sinks = config["transforms"], config["sinks"]
    assert transforms["decode_broker_stats"] == {
        "type": "remap",
        "inputs": ["broker_stats"],
        "source": broker_stats.program(),
    }
    assert transforms["broker_stats_to_metrics"] == {
        "type": "log_to_metric",
        "inputs": ["decode_broker_stats"],
        "all_metrics": True,
        "metrics": [],
    }
    exporter = sinks["broker_stats_exporter"]
    assert exporter["type"] == "prometheus_exporter"
    assert exporter["inputs"] == ["broker_stats_to_metrics"]
    assert exporter["address"] == "127.0.0.1:9598"
    assert exporter["suppress_timestamp"] is True
    # Mosquitto publishes only what changed: a steady value must outlive many scrapes.
    assert exporter["flush_period_secs"] >= 30 * 24 * 3600
    # Nothing of the broker's statistics reaches the furnace's store directly.
    assert all(
        "broker_stats" not in str(s["inputs"])
        for n, s in sinks.items()
        if n != "broker_stats_exporter"
    )


def test_broker_stats_vector_tests(files: dict[str, RenderedFile]) -> None:
    cases = {
        c["name"]: c
        for c in load(files["tests.yaml"].text)["tests"]
        if c["inputs"][0]["insert_at"] == broker_stats.TRANSFORM
    }
    assert list(cases) == [e.name for e in broker_stats.EXAMPLES]
    seconds = cases["broker stats: seconds"]
    assert seconds["inputs"][0]["source"] == (
        '.message = "1234 seconds"\n.topic = "$SYS/broker/uptime"'
    )
    assert [o["extract_from"] for o in seconds["outputs"]] == [
        "decode_broker_stats",
        "broker_stats_to_metrics",
    ]
    assert seconds["outputs"][0]["conditions"][0]["source"] == (
        '.name == "mosquitto_broker_uptime_seconds" && .kind == "absolute" '
        "&& .gauge.value == 1234.0"
    )
    words = cases["broker stats: words are dropped"]
    assert words["no_outputs_from"] == ["decode_broker_stats"] and "outputs" not in words
