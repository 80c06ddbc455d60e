"""The deploy planned for a fresh Raspberry Pi (trixie, arm64) with pyinfra's @fake connector:
every fact answers as on a blank Pi, every command "succeeds", and the commands the deploy
issues are read from pyinfra's own log (-vv).

Also: a 32-bit or Debian 12 host is refused at preflight, before any operation runs.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from deploy.sensor_deploy import pinning
from sensor_bridge import images, tls
from sensor_bridge.install import host_setup
from sensor_bridge.install.layout import Layout
from sensor_bridge.install.steps import plan
from sensor_bridge.registry import GRAFANA, SERVICES
from sensor_bridge.site import load_secrets, load_site
from sensor_bridge.store.urls import DEFAULT_URL
from tests.integration.deploy.pyinfra_runs import BOOKWORM, DEPLOY, TRIXIE, Run, pyinfra
from tests.support.image_registry import ImageRegistry, example_site_on


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ImageRegistry]:
    """The registry the site's images come from (a Pi asks Docker Hub), which the deploy asks
    to pin each tag to its digest; trusted through SSL_CERT_FILE, as a Pi trusts Docker Hub."""
    ca = tls.new_authority("registry")
    ca_file = tmp_path / "registry-ca.pem"
    ca_file.write_bytes(ca.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with ImageRegistry(tmp_path / "registry", ca) as running:
        yield running


APT_INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get -y"
SYSTEM_UNITS = (*(service.unit for service in SERVICES if not service.user), "chrony.service")


def fake_pi(
    tmp_path: Path,
    site_file: Path,
    os_release: str,
    architecture: str,
    pending: str,
    *,
    answers: Mapping[str, object] | None = None,
) -> Path:
    """An inventory of one @fake Pi: os-release, dpkg architecture, the pending activation the
    swap leaves, and ``answers`` (a regex a command matches -> its canned result); the rest
    answers as on a blank system."""
    wheel = tmp_path / "sensor_pipeline-0-py3-none-any.whl"
    wheel.write_bytes(b"a wheel stands in: nothing installs it on a fake host")
    inventory = tmp_path / "inventory.py"
    responses = {
        "/etc/os-release": os_release.splitlines(),
        "dpkg --print-architecture": architecture,
    }
    inventory.write_text(
        "import re\n"
        "responses = " + repr(responses) + "\n"
        f"responses[re.compile(r'^if \\[ -f \\S*pending-activation')] = {pending!r}\n"
        f"for pattern, answer in {answers or {}!r}.items():\n"
        "    responses[re.compile(pattern)] = answer\n"
        "pis = [('@fake/pi', {\n"
        f"    'site_file': {str(site_file)!r},\n"
        f"    'host_package_wheel': {str(wheel)!r},\n"
        "    'fake_responses': responses,\n"
        "    'fake_delay': 0,\n"
        "})]\n"
    )
    return inventory


def commands(run: Run) -> list[str]:
    """The commands pyinfra ran (its ``>>>`` lines at -vv)."""
    return [line.split(">>> ", 1)[1] for line in run.output.splitlines() if ">>> " in line]


def test_a_fresh_trixie_arm64_pi_gets_the_whole_stack(
    registry: ImageRegistry, tmp_path: Path
) -> None:
    site_file = example_site_on(registry, tmp_path / "site")
    site = load_site(site_file)
    # What the swap leaves pending on a blank Pi: the activation of every rendered file.
    blank = plan(site_file, Layout(tmp_path / "blank"))
    pending = json.dumps(blank.as_json()["activation"])
    inventory = fake_pi(tmp_path, site_file, TRIXIE, "arm64", pending)

    run = pyinfra(str(inventory), DEPLOY, "-y", "-vv", "--diff")

    assert run.returncode == 0, run.output
    ran = commands(run)
    installed = [c.split(" install ")[1].split() for c in ran if c.startswith(APT_INSTALL)]
    assert sorted(p for packages in installed for p in packages) == sorted(
        [*host_setup.DEBIAN_PACKAGES, *host_setup.packages(GRAFANA)]
    )
    assert host_setup.packages(GRAFANA) == ("alloy",)
    # apt is held to the tested versions, and checked to offer them, before a service's
    # package installs.
    held = ran.index(f"chmod 644 {host_setup.APT_PREFERENCES_PATH}")
    check = ran.index(f"sh -c {shlex.quote(host_setup.tested_versions_script())}")
    podman = next(i for i, c in enumerate(ran) if c.startswith(APT_INSTALL) and " podman " in c)
    assert held < check < podman
    assert any(GRAFANA.line in c and "grafana.list" in c for c in ran)
    assert any(GRAFANA.key_url in c and GRAFANA.fingerprint in c for c in ran)
    assert "useradd -d /home/sensor -s /usr/sbin/nologin -m sensor" in ran
    assert "loginctl enable-linger sensor" in ran
    assert "systemctl --user --machine=sensor@.host enable systemd-tmpfiles-clean.timer" in ran
    for directory in host_setup.data_dirs(site):
        assert f"chown sensor:sensor {directory}" in ran
    # Each image pinned to the digest the registry serves, in the site file, and pulled by it.
    site = load_site(site_file)
    assert pinning.unpinned(site) == {}
    for setting in ("storage.image", "alerts.image", "pipeline.image"):
        assert f"{setting}: pinned {registry.host}/" in run.output
    for image in host_setup.images(site):
        assert "@sha256:" in image
        assert f"podman pull --quiet {image}" in ran  # root's copy, for the checks
        # From /, which the service user may enter (the deploy's own directory it may not).
        assert any(
            c.startswith("runuser -u sensor -- env --chdir=/ ")
            and f"podman pull --quiet {image}" in c
            for c in ran
        )
    for unit in SYSTEM_UNITS:
        assert f"systemctl enable {unit}" in ran
    assert "systemctl start chrony.service" in ran
    assert "ln -sfn /opt/sensor-pipeline/venv/bin/sensor-bridge /usr/local/bin/sensor-bridge" in ran
    # Dependencies only from the hash-pinned list, never built on the Pi; the wheel alone.
    pip = [c for c in ran if c.startswith("/opt/sensor-pipeline/venv/bin/pip install")]
    assert pip == [
        "/opt/sensor-pipeline/venv/bin/pip install --quiet --require-hashes --only-binary :all: "
        "--requirement /opt/sensor-pipeline/venv.dist/host-requirements.txt",
        "/opt/sensor-pipeline/venv/bin/pip install --quiet --no-deps --force-reinstall "
        "/opt/sensor-pipeline/venv.dist/sensor_pipeline-0-py3-none-any.whl",
    ]
    where = "--site /etc/sensor-pipeline/site.toml --root /"
    stage = ran.index(f"/usr/local/bin/sensor-bridge deploy stage {where}")
    swap = ran.index(f"/usr/local/bin/sensor-bridge deploy swap {where}")
    reload_user = ran.index("systemctl --user --machine=sensor@.host daemon-reload")
    restarts = [
        c for c in ran if re.match(r"systemctl (--user --machine=sensor@\.host )?restart ", c)
    ]
    assert stage < swap < reload_user < ran.index(restarts[0])
    # Every service, in the registry's order: monit last.
    assert [c.split()[-1] for c in restarts] == [service.unit for service in SERVICES]
    assert restarts[-1].endswith(" restart monit.service")
    assert any(c.startswith("/usr/local/bin/sensor-bridge deploy verify") for c in ran)
    secrets = load_secrets(site)
    for secret in [secrets.pipeline_password(), *secrets.mqtt.devices.values()]:
        assert secret not in run.output


def test_a_failed_verify_rolls_back_by_itself(registry: ImageRegistry, tmp_path: Path) -> None:
    """On main a failed verify stopped the deploy with the new files live until someone ran
    rollback; now the previous set goes back, its units restart, and the deploy still fails."""
    site_file = example_site_on(registry, tmp_path / "site")
    blank = plan(site_file, Layout(tmp_path / "blank"))
    pending = json.dumps(blank.as_json()["activation"])
    kept = json.dumps([{"path": "etc/mosquitto/conf.d/sensor-pipeline.conf", "existed": True}])
    answers: dict[str, object] = {
        r"sensor-bridge deploy verify": {
            "success": False,
            "stderr": "UNHEALTHY mosquitto: no TCP connection to 127.0.0.1:1883",
        },
        r"^if \[ -f \S*previous\.json": kept,
    }
    inventory = fake_pi(tmp_path, site_file, TRIXIE, "arm64", pending, answers=answers)

    run = pyinfra(str(inventory), DEPLOY, "-y", "-vv")

    assert run.returncode != 0, run.output
    ran = commands(run)
    verify = next(i for i, c in enumerate(ran) if " deploy verify " in c)
    rollback = ran.index("/usr/local/bin/sensor-bridge deploy rollback --root /")
    restarts = [
        i
        for i, c in enumerate(ran)
        if re.match(r"systemctl (--user --machine=sensor@\.host )?restart mosquitto", c)
    ]
    assert len(restarts) == 2
    assert restarts[0] < verify < rollback < restarts[1]
    assert "UNHEALTHY mosquitto" in run.output
    assert "the files the last swap replaced are back in place" in run.output


def test_a_passing_verify_rolls_nothing_back(registry: ImageRegistry, tmp_path: Path) -> None:
    site_file = example_site_on(registry, tmp_path / "site")
    blank = plan(site_file, Layout(tmp_path / "blank"))
    kept = json.dumps([{"path": "etc/mosquitto/conf.d/sensor-pipeline.conf", "existed": True}])
    inventory = fake_pi(
        tmp_path,
        site_file,
        TRIXIE,
        "arm64",
        json.dumps(blank.as_json()["activation"]),
        answers={r"^if \[ -f \S*previous\.json": kept},
    )

    run = pyinfra(str(inventory), DEPLOY, "-y", "-vv")

    assert run.returncode == 0, run.output
    ran = commands(run)
    assert not any(" deploy rollback " in c for c in ran)
    assert len([c for c in ran if c.endswith(" restart mosquitto.service")]) == 1


@pytest.mark.parametrize(
    ("os_release", "architecture", "needed"),
    [(BOOKWORM, "arm64", "quadlets need podman 4.4"), (TRIXIE, "armhf", "no 32-bit ARM")],
)
def test_an_unfit_pi_is_refused_before_any_operation(
    registry: ImageRegistry, tmp_path: Path, os_release: str, architecture: str, needed: str
) -> None:
    site_file = example_site_on(registry, tmp_path / "site")
    inventory = fake_pi(tmp_path, site_file, os_release, architecture, "null")

    run = pyinfra(str(inventory), DEPLOY, "-y", "-vv")

    assert run.returncode != 0
    assert needed in run.output
    assert "Starting operation" not in run.output


def test_dry_prints_the_plan_and_runs_nothing(registry: ImageRegistry, tmp_path: Path) -> None:
    site_file = example_site_on(registry, tmp_path / "site")
    inventory = fake_pi(tmp_path, site_file, TRIXIE, "arm64", "null")

    run = pyinfra(str(inventory), DEPLOY, "--dry")

    assert run.returncode == 0, run.output
    plan_table = run.output.split("Detected changes:", 1)[1]
    for step in (
        "Mosquitto | Install Mosquitto (mosquitto, mosquitto-clients)",
        "Alloy | Install Alloy (alloy)",
        f"Vector | Pull {registry.host}/timberio/vector@sha256:",
        "Let sensor's manager run at boot and without a login (linger)",
        "Render the site into staging and validate it with the real tools",
        "Restart or reload vector.service if its files changed",
    ):
        assert step in plan_table
    assert "Starting operation" not in run.output


def test_a_pi_whose_store_is_a_cluster_runs_no_victoriametrics(
    registry: ImageRegistry, tmp_path: Path
) -> None:
    site_file = example_site_on(registry, tmp_path / "site")
    site_file.write_text(
        site_file.read_text().replace(
            f'url = "{DEFAULT_URL}"',
            'insert_url = "http://vminsert:8480/insert/3/prometheus"\n'
            'select_url = "http://vmselect:8481/select/3/prometheus"',
            1,
        )
    )
    site = load_site(site_file)
    assert site.storage.urls.cluster
    blank = plan(site_file, Layout(tmp_path / "blank"))
    inventory = fake_pi(
        tmp_path, site_file, TRIXIE, "arm64", json.dumps(blank.as_json()["activation"])
    )

    run = pyinfra(str(inventory), DEPLOY, "-y", "-vv")

    assert run.returncode == 0, run.output
    ran = commands(run)
    mentions = ("victoria-metrics", str(site.storage.data_path), "victoriametrics.service")
    assert [c for c in ran if any(m in c for m in mentions)] == []
    pinned = images.for_podman(load_site(site_file).pipeline.image)
    assert "@sha256:" in pinned
    assert any(f"podman pull --quiet {pinned}" in c for c in ran)
    assert "systemctl --user --machine=sensor@.host restart vmalert.service" in ran
