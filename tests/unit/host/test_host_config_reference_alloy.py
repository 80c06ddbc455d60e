"""The rendered config.alloy uses only what Alloy 1.18 accepts (tests/reference/alloy-1.18.json,
read from the ``alloy:`` tags of each component's Arguments and Exports in Alloy v1.18.1's
source by tests/reference/alloy_go.py): every component, attribute and block, each attribute
and block as such (syntax/vm/struct_decoder.go refuses one used as the other), every other
component's export a value names, every standard-library function it calls. A renamed or
removed one fails here, not on the Pi. Rendered both ways: local VictoriaMetrics only, and with
Grafana Cloud too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensor_bridge.local.examples import example_context
from sensor_bridge.render import alloy
from sensor_bridge.site import Site
from tests.reference import ALLOY_TABLE, Options
from tests.reference.alloy_text import Body, components, dotted_names
from tests.reference.keys import unknown_keys

TABLE = json.loads(ALLOY_TABLE.read_text())
COMPONENTS = TABLE["components"]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return example_context(tmp_path / "site").site


def problems(text: str) -> list[str]:
    found = []
    rendered = components(text)
    declared = {(name, label) for name, label, _ in rendered}
    for name, label, body in rendered:
        where = f"{name}.{label}"
        if name not in COMPONENTS:
            found.append(f"{where}: no such component in the reference")
            continue
        options = COMPONENTS[name]["options"]
        found += unknown_keys(_as_objects(body), options, where)
        found += _attributes_for_blocks(body, options, where)
        found += [f"{where}: {p}" for p in _unknown_names(body, declared)]
    return found


def _as_objects(body: Body) -> dict[str, object]:
    """An attribute is a plain value; a block, given once or more, a list of objects."""
    return {
        key: [_as_objects(item) for item in value] if isinstance(value, list) else None
        for key, value in body.items()
    }


def _attributes_for_blocks(body: Body, options: Options, where: str) -> list[str]:
    found = []
    for key, value in body.items():
        accepted = options.get(key)
        if isinstance(value, str) and accepted is not None:
            found.append(f"{where}.{key}: must be a block, but is used as an attribute")
        elif isinstance(value, list) and accepted is not None:
            for item in value:
                found += _attributes_for_blocks(item, accepted, f"{where}.{key}")
    return found


def _unknown_names(body: Body, declared: set[tuple[str, str]]) -> list[str]:
    """Functions outside the standard library, and exports no declared component gives."""
    found = []
    for dotted, called in (d for value in _values(body) for d in dotted_names(value)):
        if called:
            if dotted not in TABLE["stdlib"]["identifiers"]:
                found.append(f"{dotted}(): no such function in the standard library")
            continue
        name = max((c for c in COMPONENTS if dotted.startswith(c + ".")), key=len, default="")
        label, _, export = dotted.removeprefix(name + ".").partition(".")
        if (name, label) not in declared:
            found.append(f"{dotted}: no such component in this config")
        elif export not in COMPONENTS[name]["exports"]:
            found.append(f"{dotted}: {name} exports no {export!r}")
    return found


def _values(body: Body) -> list[str]:
    """Every attribute's value, in the blocks too."""
    found = []
    for value in body.values():
        found += [value] if isinstance(value, str) else [v for b in value for v in _values(b)]
    return found


@pytest.mark.parametrize("to_cloud", [False, True], ids=["local", "grafana-cloud"])
def test_everything_rendered_is_accepted(site: Site, to_cloud: bool) -> None:
    text = alloy.config(site, to_cloud)
    assert {c.name for c in components(text)} == set(COMPONENTS)
    assert problems(text) == []


def test_the_check_sees_what_it_checks(site: Site) -> None:
    """The rendered config has a block, an export and a function: the passing check looked."""
    rendered = components(alloy.config(site, to_cloud=True))
    names = {d for c in rendered for value in _values(c.body) for d in dotted_names(value)}
    assert ("sys.env", True) in names
    assert ("prometheus.remote_write.default.receiver", False) in names
    assert any(isinstance(v, list) for c in rendered for v in c.body.values())


def test_the_table_is_alloy_118() -> None:
    assert TABLE["alloy"].startswith("v1.18.")
    assert all(c["source"] for c in COMPONENTS.values())


@pytest.mark.parametrize(
    ("old", "new", "reported"),
    [
        ("scrape_interval =", "scrape_every =", "prometheus.scrape.pi.scrape_every"),
        ("target_label =", "target =", "discovery.relabel.pi.rule.target"),
        ("basic_auth {", "basicauth {", "prometheus.remote_write.default.endpoint.basicauth"),
        ('prometheus.exporter.unix "pi"', 'prometheus.exporter.node "pi"', "prometheus.exporter"),
        (
            'basic_auth {\n      username = sys.env("GRAFANA_CLOUD_USER")',
            'basic_auth = {\n      username = sys.env("GRAFANA_CLOUD_USER"),',
            "prometheus.remote_write.default.endpoint.basic_auth: must be a block",
        ),
        ("relabel.pi.output", "relabel.pi.targets", "prometheus.scrape.pi: discovery.relabel.pi"),
        ("unix.pi.targets", "unix.node.targets", "discovery.relabel.pi: prometheus.exporter.unix"),
        ("sys.env(", "env_var(", "prometheus.remote_write.default: env_var()"),
        ("sys.env(", "sys.getenv(", "prometheus.remote_write.default: sys.getenv()"),
    ],
)
def test_a_renamed_name_fails(site: Site, old: str, new: str, reported: str) -> None:
    text = alloy.config(site, to_cloud=True)
    assert old in text
    assert any(p.startswith(reported) for p in problems(text.replace(old, new, 1)))
