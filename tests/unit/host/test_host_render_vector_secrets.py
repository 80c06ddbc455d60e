"""Vector 0.57 interpolates no environment variable in its config: every rendered file holds
none, and every secret is a SECRET[...] reference the rendered secrets file resolves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sensor_bridge import mqtt_accounts
from sensor_bridge.render import RenderedFile, render_all, vector_secrets
from tests.support.cloud import TOKEN, USER, cloud_context


@pytest.fixture
def files(tmp_path: Path) -> dict[str, RenderedFile]:
    rendered = render_all(cloud_context(tmp_path))
    return {f.path.name: f for f in rendered if f.service == "vector"}


def test_no_rendered_vector_file_needs_interpolation(files: dict[str, RenderedFile]) -> None:
    for name in ("vector.yaml", "tests.yaml", "vector.container"):
        assert "${" not in files[name].text, name
        assert "$$" not in files[name].text, name


def test_every_secret_reference_resolves_from_the_rendered_secrets(
    tmp_path: Path, files: dict[str, RenderedFile]
) -> None:
    text, secrets = files["vector.yaml"].text, files["secrets.json"].text
    references = set(vector_secrets.REFERENCE.findall(text))
    assert references == {
        ("sensor_pipeline", "mqtt_password"),
        ("sensor_pipeline", "mqtt_sys_password"),
        ("sensor_pipeline", "grafana_cloud_url"),
        ("sensor_pipeline", "grafana_cloud_user"),
        ("sensor_pipeline", "grafana_cloud_token"),
    }
    resolved = yaml.safe_load(vector_secrets.resolve(text, secrets))
    again = cloud_context(tmp_path / "again").secrets
    devices, stats = resolved["sources"]["devices"], resolved["sources"]["broker_stats"]
    assert devices["password"] == mqtt_accounts.password(again, devices["user"])
    assert stats["password"] == mqtt_accounts.password(again, stats["user"])
    assert devices["password"] != stats["password"]
    cloud = resolved["sinks"]["grafana_cloud"]
    assert cloud["auth"] == {"strategy": "basic", "user": USER, "password": TOKEN}
    assert cloud["endpoint"] == "https://prometheus.example/api/prom/push"
    assert "SECRET[" not in vector_secrets.resolve(text, secrets)


def test_a_reference_without_a_value_is_named(files: dict[str, RenderedFile]) -> None:
    partial = json.dumps({"mqtt_password": "x"})
    with pytest.raises(ValueError, match=r"SECRET\[sensor_pipeline.grafana_cloud_token\]"):
        vector_secrets.resolve(files["vector.yaml"].text, partial)


def test_a_value_with_yaml_syntax_stays_one_string(tmp_path: Path) -> None:
    """Vector pastes the value into the text: quoted, '#: {x}' is still the password."""
    context = cloud_context(tmp_path)
    assert context.secrets.grafana_cloud is not None
    cloud = context.secrets.grafana_cloud.model_copy(update={"token": 'p#: {x} "$HOME" \\'})
    secrets = context.secrets.model_copy(update={"grafana_cloud": cloud})
    text = vector_secrets.resolve(
        next(f.text for f in render_all(context) if f.path.name == "vector.yaml"),
        vector_secrets.file_text(context.site, secrets),
    )
    auth = yaml.safe_load(text)["sinks"]["grafana_cloud"]["auth"]
    assert auth["password"] == 'p#: {x} "$HOME" \\'
