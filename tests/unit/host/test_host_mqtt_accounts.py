"""The host consumers' MQTT accounts: names, what each reads, and derived passwords."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sensor_bridge import mqtt_accounts
from sensor_bridge.errors import SiteError
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext
from sensor_bridge.site import Secrets


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path)


def _with_key(context: RenderContext, key: str) -> Secrets:
    mqtt = context.secrets.mqtt.model_copy(update={"pipeline": key})
    return context.secrets.model_copy(update={"mqtt": mqtt})


def test_passwords_are_stable_distinct_and_follow_the_key(context: RenderContext) -> None:
    users = [c.user for c in mqtt_accounts.consumers(context.site)]
    first = [mqtt_accounts.password(context.secrets, u) for u in users]
    assert first == [mqtt_accounts.password(context.secrets, u) for u in users]
    assert len(set(first)) == len(users)
    assert context.secrets.pipeline_password() not in first
    rotated = _with_key(context, "another-key")
    assert not set(first) & {mqtt_accounts.password(rotated, u) for u in users}
    # 256 bits in base64url: nothing Vector's YAML paste or a config line would misread.
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", p) for p in first)


def test_without_the_key_the_secrets_file_is_named(context: RenderContext) -> None:
    with pytest.raises(SiteError, match=r'add pipeline = "\.\.\." under \[mqtt\]'):
        mqtt_accounts.password(_with_key(context, ""), mqtt_accounts.STATUS_USER)


def test_vectors_accounts_follow_the_sites_client_id(context: RenderContext) -> None:
    pipeline = context.site.pipeline.model_copy(update={"client_id": "studio-vector"})
    site = context.site.model_copy(update={"pipeline": pipeline})
    users = [c.user for c in mqtt_accounts.consumers(site)]
    assert users[:2] == ["studio-vector", "studio-vector-sys"]


def test_a_client_id_that_is_another_consumers_account_is_refused(context: RenderContext) -> None:
    pipeline = context.site.pipeline.model_copy(update={"client_id": mqtt_accounts.STATUS_USER})
    site = context.site.model_copy(update={"pipeline": pipeline})
    with pytest.raises(SiteError, match=r"would share the MQTT user 'sensor-bridge-status'"):
        mqtt_accounts.check_names(site)
    mqtt_accounts.check_names(context.site)
