"""Vector's secrets: a ``file`` secret backend, never environment variables.

Vector 0.57.0 no longer interpolates environment variables in config files unless it runs with
``--dangerously-allow-env-var-interpolation`` (changelog.d/env_var_interpolation_off_by_default
.breaking.md; src/cli.rs; ``env_var_interpolation_enabled`` in src/config/loading/mod.rs, which
defaults to false). A ``${NAME}`` then reaches the component literally (the broker refuses the
password ``${...}``) and ``$$`` stays two dollars. So nothing in the config needs interpolation:
every ``$`` is written once, and each secret is a ``SECRET[backend.key]`` reference that Vector
fills from the backend declared under the top-level ``secret`` table.

How Vector 0.57.0 resolves them (read in its source):

* src/config/loading/secret.rs: ``SecretBackendLoader`` collects every
  ``SECRET\\[([[:word:]]+)\\.([[:word:].\\-/]+)\\]`` in the config *text*, asks the named
  backend for the keys, and ``interpolate`` pastes each value into the text **before the YAML
  is parsed**; a reference that cannot be resolved fails the load.
* src/secrets/file.rs: the ``file`` backend (``path``) reads one JSON object of string values;
  a missing or empty value is an error. The path is opened as given (tokio::fs), so a relative
  path is relative to Vector's working directory: the quadlet sets ``WorkingDir`` to the
  mounted config directory, and the checker runs ``vector test`` from the staged one.
* src/config/unit_test/mod.rs resolves secrets for ``vector test``; src/validate.rs does not
  for ``vector validate`` (the references stay text there).

Because the value is pasted into YAML text, each reference is written as a single-quoted YAML
scalar, where only ``'`` and line breaks are special: secrets holding either are refused at
render time with a one-line error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from sensor_bridge import mqtt_accounts
from sensor_bridge.errors import SiteError
from sensor_bridge.render import broker_stats
from sensor_bridge.site import Secrets, Site

BACKEND = "sensor_pipeline"
FILE_NAME = "secrets.json"
"""Beside vector.yaml in its config directory (mode 0600), which the quadlet mounts."""

MQTT_PASSWORD = "mqtt_password"
"""The device source's account (``mqtt_accounts``)."""
MQTT_SYS_PASSWORD = "mqtt_sys_password"
"""The ``$SYS`` source's account."""
CLOUD_URL = "grafana_cloud_url"
CLOUD_USER = "grafana_cloud_user"
CLOUD_TOKEN = "grafana_cloud_token"

REFERENCE = re.compile(r"SECRET\[([0-9A-Za-z_]+)\.([0-9A-Za-z_.\-/]+)\]")
"""Vector's own pattern (src/config/loading/secret.rs, ``COLLECTOR``)."""

_UNSAFE = re.compile(r"['\n\r]")


class SecretRef(str):
    """A ``SECRET[backend.key]`` reference, written as a single-quoted YAML scalar."""


def reference(key: str) -> SecretRef:
    return SecretRef(f"SECRET[{BACKEND}.{key}]")


def backend() -> dict[str, str]:
    """The top-level ``secret`` table's entry."""
    return {"type": "file", "path": FILE_NAME}


def values(site: Site, secrets: Secrets) -> dict[str, str]:
    """Every secret Vector's config references, by key; SiteError on one it cannot hold."""
    found = {
        MQTT_PASSWORD: mqtt_accounts.password(secrets, mqtt_accounts.vector_user(site)),
        MQTT_SYS_PASSWORD: mqtt_accounts.password(secrets, broker_stats.client_id(site)),
    }
    cloud = secrets.grafana_cloud
    if cloud is not None:
        found |= {CLOUD_URL: cloud.url, CLOUD_USER: cloud.user, CLOUD_TOKEN: cloud.token}
    for key, value in found.items():
        if _UNSAFE.search(value):
            raise SiteError(
                f"{secrets.path}: the secret for Vector's {key} holds a ' or a line break, which "
                "Vector pastes into its YAML unescaped: choose a value without them"
            )
    return found


def file_text(site: Site, secrets: Secrets) -> str:
    return json.dumps(values(site, secrets), indent=2, sort_keys=True) + "\n"


def resolve(text: str, secrets_json: str) -> str:
    """``text`` with every reference replaced as Vector does, from the rendered secrets file;
    ValueError naming each reference it cannot resolve."""
    available: Mapping[str, str] = json.loads(secrets_json)
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        backend_name, key = match.groups()
        found = available.get(key) if backend_name == BACKEND else None
        if not found:
            missing.append(match.group(0))
            return ""
        return found

    resolved = REFERENCE.sub(value, text)
    if missing:
        raise ValueError(f"no value in {FILE_NAME} for {', '.join(sorted(set(missing)))}")
    return resolved
