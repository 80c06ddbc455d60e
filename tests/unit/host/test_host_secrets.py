"""The secrets file: refused when other users may open it, and never echoed in an error."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from sensor_bridge.errors import BridgeError, SiteError
from sensor_bridge.local.examples import SECRETS_EXAMPLE, example_site
from sensor_bridge.render import RenderContext, render_all
from sensor_bridge.site import Secrets, load_secrets, load_site
from tests.support.cli import run

SENTINEL = "s3ntinel-5ecret"

# Every secret set, the example's and the optional tables it shows commented out.
_EVERY_SECRET = tomllib.loads(SECRETS_EXAMPLE.read_text()) | {
    "influxdb": {"user": "admin", "password": "change-me-influxdb"},
    "grafana_cloud": {
        "url": "https://prometheus.example.net/api/prom/push",
        "user": "123456",
        "token": "glc_change-me",
        "stack_url": "https://studio.grafana.net",
        "service_account_token": "glsa_change-me",
    },
}
_EVERY_SECRET["monit"] |= {"mmonit_user": "monit", "mmonit_password": "change-me-mmonit"}

# A value each check refuses: a line break, template syntax, blanks, quotes and shell
# characters, no URL shape, not a string at all; each holds the sentinel.
_BAD_VALUES: list[Any] = [
    f"{SENTINEL}\n",
    f"{{{{{SENTINEL}",
    f"{SENTINEL} x",
    f"{SENTINEL}'\"$`\\",
    f"http://{SENTINEL}",
    f"https://{SENTINEL}.example.net/no-slash",
    "",
    [SENTINEL],
    {SENTINEL: SENTINEL},
]


def _leaves(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in data.items():
        path = (*prefix, key)
        found += _leaves(value, path) if isinstance(value, dict) else [path]
    return found


def _fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, info in model.model_fields.items():
        nested = [
            c
            for c in (info.annotation, *getattr(info.annotation, "__args__", ()))
            if isinstance(c, type) and issubclass(c, BaseModel)
        ]
        found |= _fields(nested[0], (*prefix, name)) if nested else {(*prefix, name)}
    return found


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(_EVERY_SECRET))
    table = data
    for key in path[:-1]:
        table = table[key]
    table[path[-1]] = value
    return data


def _toml(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """JSON's strings and arrays are TOML's too."""
    header = f"[{'.'.join(json.dumps(p) for p in prefix)}]\n" if prefix else ""
    text = header + "".join(
        f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in data.items() if not isinstance(v, dict)
    )
    for key, value in data.items():
        if isinstance(value, dict):
            text += _toml(value, (*prefix, key))
    return text


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    site_file = example_site(tmp_path)
    text = site_file.read_text()
    # M/Monit on: its login is rendered too.
    old = '# mmonit_url = "https://mmonit.example.org:8443/collector"'
    assert old in text
    site_file.write_text(text.replace(old, old.removeprefix("# ")))
    return site_file


def test_every_secret_is_tried() -> None:
    tried = {
        path[:2] if path[:2] == ("mqtt", "devices") else path for path in _leaves(_EVERY_SECRET)
    }
    assert tried == _fields(Secrets)


def test_the_full_secrets_file_renders(site_file: Path) -> None:
    site = load_site(site_file)
    (site_file.parent / "secrets.toml").write_text(_toml(_EVERY_SECRET))
    assert render_all(RenderContext(site, load_secrets(site)))


@pytest.mark.parametrize("path", _leaves(_EVERY_SECRET), ids=".".join)
def test_no_error_shows_a_secret(site_file: Path, path: tuple[str, ...]) -> None:
    """Each bad value of each secret, through loading and rendering: what fails names the key
    and never the value."""
    site = load_site(site_file)
    secrets_file = site_file.parent / "secrets.toml"
    refused = 0
    for value in _BAD_VALUES:
        secrets_file.write_text(_toml(_with(path, value)))
        try:
            render_all(RenderContext(site, load_secrets(site)))
        except BridgeError as error:
            refused += 1
            assert SENTINEL not in str(error), (value, str(error))
    assert refused >= 2


def test_a_login_in_a_site_url_is_not_echoed(site_file: Path) -> None:
    text = site_file.read_text()
    for old, new in [
        ('mmonit_url = "https://', f'mmonit_url = "https://monit:{SENTINEL}@'),
        ('url = "http://127.0.0.1:8086"', f'url = "http://admin:{SENTINEL}@127.0.0.1:8086"'),
    ]:
        assert old in text
        site_file.write_text(text.replace(old, new, 1))
        with pytest.raises(SiteError) as caught:
            load_site(site_file)
        assert SENTINEL not in str(caught.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660, 0o601])
def test_secrets_open_to_others_are_refused(site_file: Path, mode: int) -> None:
    secrets_file = site_file.parent / "secrets.toml"
    secrets_file.chmod(mode)
    with pytest.raises(SiteError) as caught:
        load_secrets(load_site(site_file))
    assert str(caught.value) == (
        f"{secrets_file}: the secrets file is open to other users (mode {mode:04o}): "
        f"chmod 600 {secrets_file}"
    )


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_secrets_of_the_owner_only_load(site_file: Path, mode: int) -> None:
    secrets_file = site_file.parent / "secrets.toml"
    secrets_file.chmod(mode)
    assert load_secrets(load_site(site_file)).pipeline_password()


def test_render_refuses_readable_secrets_and_writes_nothing(
    site_file: Path, tmp_path: Path
) -> None:
    secrets_file = site_file.parent / "secrets.toml"
    secrets_file.chmod(0o644)
    out = tmp_path / "out"
    result = run("render", "--site", str(site_file), "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr == (
        f"sensor-bridge: {secrets_file}: the secrets file is open to other users (mode 0644): "
        f"chmod 600 {secrets_file}\n"
    )
    assert not out.exists()
