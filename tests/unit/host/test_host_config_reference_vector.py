"""Every key of the rendered vector.yaml and tests.yaml is an option Vector 0.57 accepts
(tests/reference/vector-0.57.json, read from Vector's generated reference): a renamed or removed
option fails here, not on the Pi, where Vector refuses an unknown field. Both renderings: the
Pi alone, and with Grafana Cloud (its remote-write sink and the ALERTS scrape)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.checks import vector as check_vector
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext, vector
from sensor_bridge.site import VECTOR_VERSION
from tests.reference import VECTOR_TABLE
from tests.reference.keys import unknown_keys
from tests.support.cloud import cloud_context

TABLE = json.loads(VECTOR_TABLE.read_text())
COMPONENT_KINDS = {"sources": "source", "transforms": "transform", "sinks": "sink"}


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path / "site")


@pytest.fixture(params=["pi", "grafana cloud"])
def each_context(request: pytest.FixtureRequest, tmp_path: Path) -> RenderContext:
    if request.param == "pi":
        return example_context(tmp_path / "site")
    return cloud_context(tmp_path / "site")


def _rendered(context: RenderContext, name: str) -> dict[str, Any]:
    (file,) = [f for f in vector.render(context) if f.path.name == name]
    return check_vector.load(file.text)


def problems(config: dict[str, Any]) -> list[str]:
    """Keys of a vector.yaml the reference does not list."""
    top = TABLE["top_level"]["options"]
    found = unknown_keys({k: v for k, v in config.items() if k not in COMPONENT_KINDS}, top, "")
    for kind, singular in COMPONENT_KINDS.items():
        for name, component in config.get(kind, {}).items():
            where = f"{kind}.{name}"
            reference = TABLE["components"].get(f"{singular}.{component['type']}")
            if reference is None:
                found.append(f"{where}: no {singular} {component['type']!r} in the reference")
                continue
            rest = {k: v for k, v in component.items() if k != "type"}
            found += unknown_keys(rest, reference["options"], where)
    return found


def test_the_table_is_vector_057() -> None:
    assert TABLE["vector"] == "v0.57.0"
    assert VECTOR_VERSION.startswith("0.57")


def test_every_rendered_option_is_accepted(each_context: RenderContext) -> None:
    assert problems(_rendered(each_context, "vector.yaml")) == []


def test_the_cloud_rendering_has_its_sink_and_scrape(tmp_path: Path) -> None:
    types = {
        component["type"]
        for kind in COMPONENT_KINDS
        for component in _rendered(cloud_context(tmp_path), "vector.yaml")[kind].values()
    }
    assert {"prometheus_scrape", "prometheus_remote_write"} <= types


def test_every_rendered_unit_test_key_is_accepted(each_context: RenderContext) -> None:
    tests = _rendered(each_context, "tests.yaml")
    assert unknown_keys(tests, TABLE["unit_tests"]["options"], "") == []


@pytest.mark.parametrize(
    ("path", "renamed", "reported"),
    [
        (("sources", "devices"), "max_packet_bytes", "sources.devices.max_packet_bytes"),
        (("sinks", "victoriametrics", "buffer"), "max_bytes", "sinks.victoriametrics.buffer"),
        ((), "graphql", "graphql"),
    ],
)
def test_a_renamed_option_fails(
    context: RenderContext, path: tuple[str, ...], renamed: str, reported: str
) -> None:
    config = _rendered(context, "vector.yaml")
    target = config
    for key in path:
        target = target[key]
    target[renamed] = 1
    assert any(p.startswith(reported) for p in problems(config))


def test_an_unknown_component_type_fails(context: RenderContext) -> None:
    config = _rendered(context, "vector.yaml")
    config["sinks"]["victoriametrics"]["type"] = "prometheus_remote_writer"
    assert problems(config) == [
        "sinks.victoriametrics: no sink 'prometheus_remote_writer' in the reference"
    ]


def test_the_reference_holds_what_the_secret_backends_and_remote_write_take() -> None:
    """Options the rendered config does not use yet, looked up where a second remote-write
    sink and a secret backend will need them."""
    secret = TABLE["top_level"]["options"]["secret"]["*"]
    assert {"type", "path", "command", "protocol", "timeout"} <= set(secret)
    sink = TABLE["components"]["sink.prometheus_remote_write"]["options"]
    assert {"buffer", "auth", "batch", "request", "tls", "endpoint"} <= set(sink)
    assert {"strategy", "user", "password", "token"} <= set(sink["auth"])
    assert {"type", "max_size", "max_events", "when_full"} == set(sink["buffer"])
