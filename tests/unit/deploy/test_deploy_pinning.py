"""Images by digest: the references podman is given, and the site file rewritten with a pin
(its other lines and comments kept)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from deploy.sensor_deploy import pinning
from sensor_bridge import images
from sensor_bridge.install import container_tools, host_setup
from sensor_bridge.local.examples import example_site
from sensor_bridge.render.quadlets import Container, container_unit
from sensor_bridge.site import load_site

DIGEST = "sha256:" + "0123456789abcdef" * 4
OTHER = "sha256:" + "fedcba9876543210" * 4


def test_podman_gets_the_digest_alone_when_there_is_one() -> None:
    assert images.for_podman(f"docker.io/timberio/vector:0.57.0-debian@{DIGEST}") == (
        f"docker.io/timberio/vector@{DIGEST}"
    )
    assert images.for_podman(f"localhost:5000/a/b@{DIGEST}") == f"localhost:5000/a/b@{DIGEST}"
    assert (
        images.for_podman("docker.io/timberio/vector:0.57.0") == "docker.io/timberio/vector:0.57.0"
    )


def test_a_pin_keeps_the_tag_for_people() -> None:
    reference = images.parse("docker.io/victoriametrics/vmalert:v1.112.0")
    assert reference.pinned_to(DIGEST) == f"docker.io/victoriametrics/vmalert:v1.112.0@{DIGEST}"


def test_the_quadlet_and_the_check_wrappers_run_the_pinned_digest(tmp_path: Path) -> None:
    site_file = example_site(tmp_path)
    text = site_file.read_text()
    for setting, reference in pinning.unpinned(load_site(site_file)).items():
        text = pinning.with_setting(text, setting, reference.pinned_to(DIGEST))
    site_file.write_text(text)
    site = load_site(site_file)
    assert pinning.unpinned(site) == {}
    pulled = host_setup.images(site)
    assert pulled and all(image.endswith(f"@{DIGEST}") and ":v" not in image for image in pulled)
    assert set(container_tools.images(site).values()) == set(pulled)
    unit = container_unit(
        Container(name="vmalert", description="d", image=site.alerts.image, health_cmd="true")
    )
    assert f"Image=docker.io/victoriametrics/vmalert@{DIGEST}\n" in unit


EXAMPLE = """\
# The studio.
studio = "s"

[storage]  # the store
# The image.
image = "docker.io/victoriametrics/victoria-metrics:v1.112.0"
retention = "100y"

[pipeline]
client_id = "v"
"""


def test_a_setting_the_table_has_is_rewritten_in_place() -> None:
    pinned = f"docker.io/victoriametrics/victoria-metrics:v1.112.0@{DIGEST}"
    text = pinning.with_setting(EXAMPLE, "storage.image", pinned)
    assert text == EXAMPLE.replace("v1.112.0", f"v1.112.0@{DIGEST}")


def test_a_setting_left_at_its_default_is_added_under_its_table() -> None:
    text = pinning.with_setting(EXAMPLE, "pipeline.image", f"docker.io/t/v:1@{DIGEST}")
    assert tomllib.loads(text)["pipeline"] == {
        "client_id": "v",
        "image": f"docker.io/t/v:1@{DIGEST}",
    }
    assert text.startswith(EXAMPLE.split("[pipeline]", maxsplit=1)[0])


def test_a_table_the_file_lacks_is_added_at_the_end() -> None:
    text = pinning.with_setting(EXAMPLE, "alerts.image", f"docker.io/v/a:1@{DIGEST}")
    assert text.startswith(EXAMPLE)
    assert tomllib.loads(text)["alerts"] == {"image": f"docker.io/v/a:1@{DIGEST}"}


def test_an_image_pinned_already_is_left_alone(tmp_path: Path) -> None:
    site_file = example_site(tmp_path)
    site_file.write_text(
        site_file.read_text().replace(
            '"docker.io/victoriametrics/vmalert:v1.112.0"',
            f'"docker.io/victoriametrics/vmalert:v1.112.0@{OTHER}"',
        )
    )
    assert "alerts.image" not in pinning.unpinned(load_site(site_file))
    assert {"storage.image", "pipeline.image"} <= set(pinning.unpinned(load_site(site_file)))


def test_one_image_the_registry_cannot_tell_writes_nothing(tmp_path: Path) -> None:
    site_file = example_site(tmp_path)
    before = site_file.read_bytes()

    def resolver(reference: images.ImageReference) -> str:
        if reference.repository == "timberio/vector":
            raise pinning.PinError("https://registry-1.docker.io/...: 404 Not Found")
        return DIGEST

    with pytest.raises(pinning.PinError) as raised:
        pinning.pin_site_file(site_file, load_site(site_file), resolver)
    assert site_file.read_bytes() == before
    message = str(raised.value)
    assert "\n" not in message
    assert "pipeline.image = 'docker.io/timberio/vector:0.57.0-debian' names no digest" in message
    assert "404 Not Found" in message
    assert "@sha256:<digest>" in message
