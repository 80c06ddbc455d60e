"""Which units restart or reload for which changed files; who owns each live file."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from sensor_bridge import registry
from sensor_bridge.install.activation import (
    Activation,
    Unit,
    activation_for,
    removed_units,
    unit_of,
)
from sensor_bridge.install.ownership import owner
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import render_all
from sensor_bridge.render.alertmanager import CONFIG_PATH as ALERTMANAGER_CONFIG
from sensor_bridge.render.alertmanager import DEFAULTS_PATH as ALERTMANAGER_FLAGS
from sensor_bridge.render.alloy import CONFIG_PATH as ALLOY_CONFIG
from sensor_bridge.render.alloy import DEFAULTS_PATH as ALLOY_ENV
from sensor_bridge.render.mosquitto import ACL_PATH, CERT_PATH, CONF_PATH, KEY_PATH, PASSWD_PATH

VECTOR = Unit("vector.service", True)
VMALERT = Unit("vmalert.service", True)
VICTORIAMETRICS = Unit("victoriametrics.service", True)
MOSQUITTO = Unit("mosquitto.service", False)
ALERTMANAGER = Unit("prometheus-alertmanager.service", False)
MONIT = Unit("monit.service", False)
ALLOY = Unit("alloy.service", False)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[PurePosixPath, str]]:
    files = render_all(example_context(tmp_path_factory.mktemp("site")))
    return {f.path.name: (f.path, f.service) for f in files}


def test_every_rendered_file_has_a_rule(rendered: dict[str, tuple[PurePosixPath, str]]) -> None:
    everything = activation_for(rendered.values())
    assert everything.user_daemon_reload
    assert set(everything.restart) == {unit_of(service) for service in registry.SERVICES}
    assert set(everything.restart) >= {
        MOSQUITTO,
        ALERTMANAGER,
        MONIT,
        ALLOY,
        VECTOR,
        VMALERT,
        VICTORIAMETRICS,
    }
    # Restart wins over reload for the same unit.
    assert everything.reload == ()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rules.yaml", Activation(restart=(VMALERT,))),
        ("vmalert.container", Activation(True, restart=(VMALERT,))),
        ("victoriametrics.container", Activation(True, restart=(VICTORIAMETRICS,))),
        ("vector.yaml", Activation(restart=(VECTOR,))),
        ("secrets.json", Activation(restart=(VECTOR,))),
        ("tests.yaml", Activation()),
        ("sensor-pipeline-vector.conf", Activation()),
        ("furnace.json", Activation()),
        (CONF_PATH.name, Activation(restart=(MOSQUITTO,))),
        (CERT_PATH.name, Activation(restart=(MOSQUITTO,))),
        (KEY_PATH.name, Activation(restart=(MOSQUITTO,))),
        (PASSWD_PATH.name, Activation(reload=(MOSQUITTO,))),
        (ACL_PATH.name, Activation(reload=(MOSQUITTO,))),
        (ALERTMANAGER_CONFIG.name, Activation(reload=(ALERTMANAGER,))),
        (ALERTMANAGER_FLAGS.name, Activation(restart=(ALERTMANAGER,))),
        ("monitrc", Activation(restart=(MONIT,))),
        (ALLOY_CONFIG.name, Activation(reload=(ALLOY,))),
        (ALLOY_ENV.name, Activation(restart=(ALLOY,))),
    ],
)
def test_one_changed_file(
    rendered: dict[str, tuple[PurePosixPath, str]], name: str, expected: Activation
) -> None:
    assert activation_for([rendered[name]]) == expected


def test_a_file_of_an_unknown_service_is_an_error() -> None:
    with pytest.raises(ValueError, match="no activation rule"):
        activation_for([(PurePosixPath("etc/new/thing.conf"), "new-service")])


def test_pending_activations_merge_and_round_trip() -> None:
    left = Activation(False, restart=(VMALERT,), reload=(MOSQUITTO,))
    right = Activation(True, restart=(MOSQUITTO,))
    merged = left.merged(right)
    assert merged == Activation(True, restart=(MOSQUITTO, VMALERT), reload=())
    assert Activation.from_json(merged.as_json()) == merged


def test_owners(tmp_path: Path) -> None:
    site = example_context(tmp_path).site
    assert owner(PASSWD_PATH, site) == ("mosquitto", "mosquitto")
    # Mosquitto opens its key after dropping to its own user.
    assert owner(KEY_PATH, site) == ("mosquitto", "mosquitto")
    assert owner(CERT_PATH, site) == ("root", "root")
    assert owner(ALERTMANAGER_CONFIG, site) == ("prometheus", "prometheus")
    assert owner(CONF_PATH, site) == ("root", "root")
    assert owner(PurePosixPath("etc/monit/monitrc"), site) == ("root", "root")
    quadlet = PurePosixPath("home/sensor/.config/containers/systemd/vector.container")
    assert owner(quadlet, site) == ("sensor", "sensor")


def test_a_removed_quadlet_stops_its_unit() -> None:
    """The rollback of a first deploy removes the quadlets it created: their units stop (they
    no longer exist after the daemon-reload), whatever their other files ask."""
    rules = PurePosixPath("home/sensor/.config/sensor-pipeline/vmalert/rules.yaml")
    quadlet = PurePosixPath("home/sensor/.config/containers/systemd/vmalert.container")
    restored = [(quadlet, "vmalert"), (rules, "vmalert"), (PurePosixPath(CONF_PATH), "mosquitto")]
    activation = activation_for(restored).stopping(removed_units([quadlet]))
    assert activation == Activation(True, restart=(MOSQUITTO,), stop=(VMALERT,))
    assert Activation.from_json(activation.as_json()) == activation
    assert activation.merged(Activation(restart=(VMALERT,))) == activation
