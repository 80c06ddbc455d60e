"""Host data ``apt_mirrors``: a repository's mirror replaces its source, key URL and pinned
fingerprint, and nothing else; a malformed entry stops the deploy with one line."""

from __future__ import annotations

import pytest
from pyinfra.api.exceptions import DeployError

from deploy.sensor_deploy.mirrors import apt_mirrors
from sensor_bridge.install.host_setup import pinned_key_script
from sensor_bridge.registry import GRAFANA

MIRROR = {
    "source": "http://mirror.studio.lan/grafana stable main",
    "key_url": "http://mirror.studio.lan/grafana/key.asc",
    "fingerprint": "0123 4567 89ab cdef 0123 4567 89ab cdef 0123 4567",
}


def test_a_mirror_replaces_the_source_and_its_pinned_key() -> None:
    (mirror,) = apt_mirrors({"grafana": MIRROR}).values()
    assert mirror.line == (
        "deb [signed-by=/etc/apt/keyrings/grafana.asc] http://mirror.studio.lan/grafana stable main"
    )
    assert mirror.fingerprint == "0123456789ABCDEF0123456789ABCDEF01234567"
    assert (mirror.keyring, mirror.file) == (GRAFANA.keyring, GRAFANA.file)
    script = pinned_key_script(mirror)
    assert "http://mirror.studio.lan/grafana/key.asc" in script
    assert "update Grafana (mirror)" in script and "apt_mirrors" in script
    assert apt_mirrors({}) == {}


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"debian": MIRROR}, "'debian'"),
        ({"grafana": {**MIRROR, "suite": "stable"}}, "'grafana'"),
        ({"grafana": {"source": MIRROR["source"]}}, "'grafana'"),
        ({"grafana": {**MIRROR, "fingerprint": ""}}, "non-empty text"),
        (["grafana"], "apt_mirrors: give"),
    ],
)
def test_a_malformed_mirror_is_one_line(data: object, names: str) -> None:
    with pytest.raises(DeployError) as raised:
        apt_mirrors(data)
    message = str(raised.value)
    assert names in message and "\n" not in message
    assert "source, key_url, fingerprint" in message
