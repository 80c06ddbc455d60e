"""The site file: the example loads, and every mistake gives one line naming it and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sensor_bridge.site as site_module
from sensor_bridge.bundle import supported_boards
from sensor_bridge.errors import SiteError
from sensor_bridge.local.examples import SITE_EXAMPLE, example_context, example_site
from sensor_bridge.render import RenderContext, mosquitto
from sensor_bridge.site import (
    Device,
    IdleSchedule,
    Site,
    Thresholds,
    load_secrets,
    load_site,
    site_path,
)

EXAMPLE = SITE_EXAMPLE.read_text()


def _error(call: Callable[[], object]) -> str:
    with pytest.raises(SiteError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


def _site_error(tmp_path: Path, text: str) -> str:
    site_file = example_site(tmp_path)
    site_file.write_text(text)
    message = _error(lambda: load_site(site_file))
    assert message.startswith(f"{site_file}: ")
    return message


def test_example_site_loads_with_its_secrets(tmp_path: Path) -> None:
    context = example_context(tmp_path)
    assert context.site.studio == "studio-1"
    assert [d.id for d in context.site.devices] == ["furnace-1", "glory-hole"]
    assert context.site.storage.retention == "100y"
    for device in context.site.devices:
        assert context.secrets.device_password(device.id)
    assert context.secrets.pipeline_password()


def _keys(model: Any, prefix: str = "") -> set[str]:
    keys = set()
    for name, info in model.model_fields.items():
        keys.add(prefix + name)
        for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
                keys |= _keys(candidate, f"{prefix}{name}.")
    return keys


def test_example_documents_every_setting() -> None:
    """Each setting of the models appears in the example, set or commented out."""
    documented = EXAMPLE.replace("# ", "")
    for key in _keys(Site):
        leaf = key.rsplit(".", 1)[-1]
        assert f"{leaf} =" in documented or f"[{key}]" in documented, key


def test_example_values_are_the_defaults(tmp_path: Path) -> None:
    """The example says it lists every setting with its default: a default changed in the
    model and not in the example fails here. What the example sets otherwise on purpose: the
    studio, the devices, ``storage.url`` (the default node, written out), the broker's
    ``device_address`` (the certificate must name one) and the idle schedule's ``too_cold_c``
    (none by default)."""
    site = example_context(tmp_path).site
    bare = Site(studio=site.studio, devices=[Device(id=d.id, board=d.board) for d in site.devices])
    apart: Any = {"devices": True, "storage": {"url"}, "broker": {"device_address"}}

    assert site.model_dump(exclude=apart) == bare.model_dump(exclude=apart)
    assert site.storage.urls == bare.storage.urls
    for device in site.devices:
        assert device.thresholds.model_dump(exclude={"idle"}) == Thresholds().model_dump(
            exclude={"idle"}
        )
    idle = site.devices[0].thresholds.idle
    assert idle is not None
    assert idle.model_dump(exclude={"too_cold_c"}) == IdleSchedule().model_dump(
        exclude={"too_cold_c"}
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'studio = "studio-1"',
            'studio = "studio-1"\nstudoi = "s"',
            "unknown key 'studoi'; did you mean 'studio'?",
        ),
        ("port = 8883", "prot = 8883", "unknown key 'broker.prot'; did you mean 'port'?"),
        (
            "too_hot_c = 1250.0",
            "too_hot = 1250.0",
            "unknown key 'devices[0].thresholds.too_hot'; did you mean 'too_hot_c'?",
        ),
        (
            'id = "glory-hole"',
            'id = "Glory Hole"',
            "devices[1].id: id 'Glory Hole' has 'G'; use only a-z, 0-9, '_' and '-'",
        ),
        ('studio = "studio-1"', 'studio = "a/b"', "studio: id 'a/b' has '/'"),
        ('id = "glory-hole"', 'id = "furnace-1"', "device id 'furnace-1' is used twice"),
        (
            'board = "raspberry_pi_pico2_w"',
            'board = "arduino_uno"',
            "devices[0].board: board 'arduino_uno' is not supported; use one of "
            + ", ".join(supported_boards()),
        ),
        (
            'retention = "100y"',
            'retention = "forever"',
            "storage.retention: 'forever' is not a duration like 30s, 5m, 14d or 100y",
        ),
        ("port = 8883", "port = ", "not valid TOML: Invalid value (at line"),
        (
            "plain_port = 1883",
            "plain_port = 8883",
            "broker: plain_port and port are both 8883: the plain and the TLS listener need a "
            "port each",
        ),
        ('studio = "studio-1"', "", "missing key 'studio'"),
        (
            "too_cold_c = 1000.0",
            "too_cold_c = 1300.0",
            "too_cold_c (1300.0) must be below too_hot_c (1250.0)",
        ),
    ],
)
def test_site_mistake_is_one_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in EXAMPLE
    assert expected in _site_error(tmp_path, EXAMPLE.replace(old, new, 1))


def test_missing_site_file(tmp_path: Path) -> None:
    message = _error(lambda: load_site(tmp_path / "site.toml"))
    assert (
        message
        == f"{tmp_path / 'site.toml'}: site file not found: copy site.example.toml and edit it"
    )


def test_missing_secrets_file(tmp_path: Path) -> None:
    site = load_site(example_site(tmp_path))
    (tmp_path / "secrets.toml").unlink()
    message = _error(lambda: load_secrets(site))
    assert message == f"{tmp_path / 'secrets.toml'}: secrets file not found: create it (mode 0600)"


def test_unknown_secret_key(tmp_path: Path) -> None:
    site = load_site(example_site(tmp_path))
    (tmp_path / "secrets.toml").write_text('[mqtt]\npipelin = "x"\n')
    assert _error(lambda: load_secrets(site)).endswith(
        "unknown key 'mqtt.pipelin'; did you mean 'pipeline'?"
    )


def test_missing_device_secret_names_the_device(tmp_path: Path) -> None:
    site = load_site(example_site(tmp_path))
    (tmp_path / "secrets.toml").write_text(
        '[mqtt]\npipeline = "p"\n[mqtt.devices]\nfurnace-1 = "x"\n'
    )
    message = _error(lambda: mosquitto.render(RenderContext(site, load_secrets(site))))
    assert message == (
        f"{tmp_path / 'secrets.toml'}: no MQTT password for device 'glory-hole': "
        'add glory-hole = "..." under [mqtt.devices]'
    )


def test_missing_pipeline_secret_names_the_pipeline(tmp_path: Path) -> None:
    site = load_site(example_site(tmp_path))
    (tmp_path / "secrets.toml").write_text('[mqtt.devices]\nfurnace-1 = "x"\nglory-hole = "y"\n')
    message = _error(lambda: mosquitto.render(RenderContext(site, load_secrets(site))))
    assert message == (
        f"{tmp_path / 'secrets.toml'}: no MQTT password for the pipeline: "
        'add pipeline = "..." under [mqtt]'
    )


_DIGEST = "sha256:" + "0123456789abcdef" * 4
_ADDRESS = 'address = "0.0.0.0"'
_DATA = 'data_path = "/var/lib/sensor-pipeline/vector"'
_IMAGE = 'image = "docker.io/timberio/vector:0.57.0-debian"'
_USER = 'name = "sensor"'
_NAME = 'name = "Main furnace"'


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (_ADDRESS, 'address = "192.168.1.300"', "broker.address: '192.168.1.300' is not an IP"),
        (_ADDRESS, 'address = "pi_host"', "broker.address: 'pi_host' is not an IP address"),
        (_ADDRESS, 'address = "-pi.lan"', "broker.address: '-pi.lan' is not an IP address"),
        (_ADDRESS, 'address = ""', "broker.address: '' is not an IP address or host name"),
        (_DATA, 'data_path = "/var/lib/sensor-pipeline"', "pipeline.data_path: /var/lib/sensor"),
        (_DATA, 'data_path = "/var/lib/sensor-pipeline/deploy/v"', "pipeline.data_path: /var/"),
        (_DATA, 'data_path = "/var/lib/sensor-pipeline/../x"', "is not an absolute path"),
        (_DATA, 'data_path = "vector"', "pipeline.data_path: vector is not an absolute path"),
        (_DATA, 'data_path = "/home/sensor"', "is not a directory of its own under /var/lib/s"),
        (_IMAGE, 'image = "timberio/vector:0.57.0"', "pipeline.image: 'timberio/vector:0.57.0'"),
        (_IMAGE, 'image = "docker.io/timberio/vector"', "is not an image reference like"),
        (_IMAGE, 'image = "docker.io/Timberio/vector:1"', "is not an image reference like"),
        (_IMAGE, f'image = "docker.io/t/v@{_DIGEST[:-1]}"', "is not an image reference like"),
        (_IMAGE, 'image = "docker.io/t/v:-1"', "is not an image reference like"),
        (_USER, 'name = "mosquitto"', "service_user.name: 'mosquitto' is a system account"),
        (_USER, 'name = "www-data"', "service_user.name: 'www-data' is a system account"),
        (_USER, 'name = "systemd-network"', "'systemd-network' is a system account"),
        (_USER, 'name = "_apt"', "service_user.name: '_apt' is a system account"),
        ("# home =", 'home = "home/sensor"\n#', "service_user.home: home/sensor is not an abso"),
        (_NAME, 'name = "a\\u2028b"', "devices[0].name: holds a control character (U+2028)"),
        (_NAME, 'name = "a\\u0085b"', "devices[0].name: holds a control character (U+0085)"),
        (_NAME, 'name = "a\\tb"', "devices[0].name: holds a control character (U+0009)"),
        (_NAME, 'name = "a{{b"', "devices[0].name: holds '{{', which a Go template would run"),
        (_NAME, '"a\\rb" = 1', "a key in devices[0] holds a control character (U+000D)"),
    ],
)
def test_each_kind_refuses_what_it_is_not(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in EXAMPLE
    assert expected in _site_error(tmp_path, EXAMPLE.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (_ADDRESS, 'address = "::"'),
        (_ADDRESS, 'address = "fe80::1"'),
        (_ADDRESS, 'address = "192.168.1.10"'),
        (_ADDRESS, 'address = "pi.local"'),
        (_ADDRESS, 'address = "furnace-pi"'),
        (_DATA, 'data_path = "/var/lib/sensor-pipeline/pipeline/vector"'),
        (_IMAGE, f'image = "docker.io/timberio/vector:0.57.0-debian@{_DIGEST}"'),
        (_IMAGE, f'image = "localhost:5000/timberio/vector@{_DIGEST}"'),
        (_IMAGE, 'image = "ghcr.io/vector-dev/vector__x:v0.57.0_1"'),
        (_USER, 'name = "furnace-ops"'),
        (_NAME, 'name = "Main furnace: 1,300 °C {max}"'),
    ],
)
def test_each_kind_takes_what_it_is(tmp_path: Path, old: str, new: str) -> None:
    site_file = example_site(tmp_path)
    site_file.write_text(EXAMPLE.replace(old, new, 1))
    load_site(site_file)


def test_a_board_without_heap_for_tls_is_refused_tls(tmp_path: Path) -> None:
    # boards/raspberry_pi_pico_w.py: TLS = False (README, "Boards and TLS").
    text = SITE_EXAMPLE.read_text().replace(
        'board = "raspberry_pi_pico2_w"', 'board = "raspberry_pi_pico_w"', 1
    )
    path = tmp_path / "site.toml"
    path.write_text(text)
    with pytest.raises(SiteError) as caught:
        load_site(path)
    assert str(caught.value).endswith(
        "device furnace-1: a raspberry_pi_pico_w has no heap for TLS beside its readings (README, "
        '"Boards and TLS"): set tls = false on it and plain_lan = true under [broker], or use a '
        "board that has (raspberry_pi_pico2_w)"
    ), caught.value


def test_the_site_file_defaults_to_the_deployed_one_where_none_is_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = tmp_path / "etc" / "site.toml"
    monkeypatch.setattr(site_module, "DEPLOYED_SITE_PATH", deployed)
    monkeypatch.delenv(site_module.SITE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert site_path(None) == Path("site.toml")
    deployed.parent.mkdir()
    deployed.write_text("")
    assert site_path(None) == deployed
    (tmp_path / "site.toml").write_text("")
    assert site_path(None) == Path("site.toml")
    monkeypatch.setenv(site_module.SITE_ENV, "other.toml")
    assert site_path(None) == Path("other.toml")
    assert site_path("given.toml") == Path("given.toml")
