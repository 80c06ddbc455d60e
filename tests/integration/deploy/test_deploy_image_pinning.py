"""A live deploy pins each image the site names by tag to the digest its registry serves,
asked of a real registry (Debian's docker-registry, distribution 2.8) over TLS, anonymously
and behind token authentication as Docker Hub's is."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.sensor_deploy import pinning
from sensor_bridge import images, tls
from sensor_bridge.site import load_site
from tests.support.image_registry import (
    OCI_INDEX,
    OCI_MANIFEST,
    SERVICE,
    ImageRegistry,
    example_site_on,
)

REPOSITORIES = {
    "storage.image": ("victoriametrics/victoria-metrics", "v1.112.0"),
    "alerts.image": ("victoriametrics/vmalert", "v1.112.0"),
    "pipeline.image": ("timberio/vector", "0.57.0-debian"),
}


@pytest.fixture(params=[False, True], ids=["anonymous", "tokens"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ImageRegistry]:
    ca = tls.new_authority("registry test")
    with ImageRegistry(tmp_path / "registry", ca, tokens=request.param) as running:
        yield running


@pytest.fixture
def trusting(registry: ImageRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine trusts the registry's CA, as a Pi trusts Docker Hub's (OpenSSL reads
    SSL_CERT_FILE for its default trust store)."""
    ca_file = tmp_path / "registry-ca.pem"
    ca_file.write_bytes(registry.ca.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))


def _setting(site_file: Path, setting: str) -> str:
    table, key = setting.split(".")
    value: str = tomllib.loads(site_file.read_text())[table][key]
    return value


@pytest.mark.usefixtures("trusting")
def test_each_tag_is_pinned_to_the_digest_the_registry_serves(
    registry: ImageRegistry, tmp_path: Path
) -> None:
    site_file = example_site_on(registry, tmp_path / "site")
    pushed = {
        setting: registry.push_image(repository, tag, f"{repository} {tag}".encode())
        for setting, (repository, tag) in REPOSITORIES.items()
    }
    said = pinning.pin_site_file(site_file, load_site(site_file))

    assert len(said) == 3
    for setting, (repository, tag) in REPOSITORIES.items():
        assert (
            _setting(site_file, setting) == f"{registry.host}/{repository}:{tag}@{pushed[setting]}"
        )
    assert pinning.unpinned(load_site(site_file)) == {}
    assert (
        "# The container image, pinned to the version the test suite ran" in site_file.read_text()
    )
    if registry.issuer is not None:
        asked = {(r["service"], r["scope"]) for r in registry.issuer.requests}
        assert asked >= {(SERVICE, f"repository:{r}:pull") for r, _ in REPOSITORIES.values()}


@pytest.mark.usefixtures("trusting")
def test_a_multi_architecture_tag_is_pinned_to_its_index(
    registry: ImageRegistry, tmp_path: Path
) -> None:
    repository, tag = REPOSITORIES["storage.image"]
    arm64 = registry.push_image(repository, "arm64", b"arm64 layer")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": arm64,
                    "size": 400,
                    "platform": {"architecture": "arm64", "os": "linux"},
                }
            ],
        }
    ).encode()
    pushed = registry.push_manifest(repository, tag, index, OCI_INDEX)
    assert pushed == "sha256:" + hashlib.sha256(index).hexdigest() != arm64
    reference = images.parse(f"{registry.host}/{repository}:{tag}")
    assert pinning.resolve(reference) == pushed


@pytest.mark.usefixtures("trusting")
def test_a_tag_the_registry_does_not_have_stops_with_one_line_and_writes_nothing(
    registry: ImageRegistry, tmp_path: Path
) -> None:
    site_file = example_site_on(registry, tmp_path / "site")
    missing = f"{registry.host}/timberio/vector:0.99.0"
    site_file.write_text(pinning.with_setting(site_file.read_text(), "pipeline.image", missing))
    before = site_file.read_bytes()
    with pytest.raises(pinning.PinError) as raised:
        pinning.pin_site_file(site_file, load_site(site_file))
    message = str(raised.value)
    assert "\n" not in message
    assert f"pipeline.image = '{missing}' names no digest" in message
    assert "404" in message
    assert site_file.read_bytes() == before


def test_a_registry_this_machine_does_not_trust_is_not_asked(
    registry: ImageRegistry, tmp_path: Path
) -> None:
    repository, tag = REPOSITORIES["storage.image"]
    registry.push_image(repository, tag, b"layer")
    with pytest.raises(pinning.PinError, match="CERTIFICATE_VERIFY_FAILED"):
        pinning.resolve(images.parse(f"{registry.host}/{repository}:{tag}"))


def test_an_unreachable_registry_stops_with_one_line(tmp_path: Path) -> None:
    from sensor_bridge.checks.process import free_port

    reference = images.parse(f"127.0.0.1:{free_port()}/victoriametrics/vmalert:v1.112.0")
    with pytest.raises(pinning.PinError, match="Connection refused"):
        pinning.resolve(reference)
