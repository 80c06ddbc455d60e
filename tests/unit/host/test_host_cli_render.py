"""``sensor-bridge render``: the tree, its modes, what it reports, and rendering twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sensor_bridge import tls
from sensor_bridge.local.examples import example_site
from tests.support.cli import broker_and_storage_only, run

PASSWD = Path("etc/mosquitto/sensor-pipeline.passwd")
ACL = Path("etc/mosquitto/sensor-pipeline.acl")
CERT = Path("etc/mosquitto/certs/sensor-pipeline.crt")
KEY = Path("etc/mosquitto/certs/sensor-pipeline.key")
QUADLET = Path("home/sensor/.config/containers/systemd/victoriametrics.container")


@pytest.fixture
def site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    broker_and_storage_only(monkeypatch)
    return example_site(tmp_path)


def _tree(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_render_writes_the_tree_with_modes(site_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("render", "--site", str(site_file), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert set(_tree(out)) == {
        Path("etc/mosquitto/conf.d/sensor-pipeline.conf"),
        CERT,
        KEY,
        PASSWD,
        ACL,
        QUADLET,
    }
    assert (out / PASSWD).stat().st_mode & 0o777 == 0o600
    assert (out / KEY).stat().st_mode & 0o777 == 0o600
    assert (out / ACL).stat().st_mode & 0o777 == 0o644
    assert f"new        {PASSWD}  (secret, 0600)" in result.output.splitlines()
    assert result.output.splitlines()[-1] == f"6 files in {out}: 6 new, 0 changed, 0 unchanged"


def test_render_twice_is_byte_identical(site_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("render", "--site", str(site_file), "--out", str(out))
    first = _tree(out)
    result = run("render", "--site", str(site_file), "--out", str(out))
    assert _tree(out) == first
    assert result.output.splitlines()[-1] == f"6 files in {out}: 0 new, 0 changed, 6 unchanged"


def test_the_ca_is_made_once_beside_the_secrets_file(site_file: Path, tmp_path: Path) -> None:
    key, cert = site_file.parent / tls.CA_KEY_FILE, site_file.parent / tls.CA_CERT_FILE
    run("render", "--site", str(site_file), "--out", str(tmp_path / "out"))
    assert key.stat().st_mode & 0o777 == 0o600
    made = key.read_bytes(), cert.read_bytes()
    result = run("render", "--site", str(site_file), "--out", str(tmp_path / "other"))
    assert result.exit_code == 0, result.output
    assert (key.read_bytes(), cert.read_bytes()) == made


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("chmod", "the CA key is readable by others: chmod 600 {key}"),
        (
            "lose-key",
            "{key}: missing beside the rest of the CA: restore it from your backup (a "
            "new CA means provisioning every board again)",
        ),
    ],
)
def test_a_damaged_ca_is_refused_in_one_line(
    site_file: Path, tmp_path: Path, damage: str, expected: str
) -> None:
    key = site_file.parent / tls.CA_KEY_FILE
    run("render", "--site", str(site_file), "--out", str(tmp_path / "out"))
    if damage == "chmod":
        key.chmod(0o644)
    else:
        key.unlink()
    result = run("render", "--site", str(site_file), "--out", str(tmp_path / "again"))
    assert result.exit_code == 2
    assert result.output.endswith(expected.format(key=key) + "\n")
    assert len(result.output.splitlines()) == 1
    assert not (tmp_path / "again").exists()


def test_previous_root_keeps_live_hashes_in_a_new_tree(site_file: Path, tmp_path: Path) -> None:
    live = tmp_path / "live"
    run("render", "--site", str(site_file), "--out", str(live))
    fresh = tmp_path / "fresh"
    run("render", "--site", str(site_file), "--out", str(fresh), "--previous-root", str(live))
    assert _tree(fresh) == _tree(live)
    unrelated = tmp_path / "unrelated"
    run("render", "--site", str(site_file), "--out", str(unrelated))
    assert (unrelated / PASSWD).read_bytes() != (live / PASSWD).read_bytes()


def test_render_repairs_edits_and_modes(site_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("render", "--site", str(site_file), "--out", str(out))
    rendered_acl = (out / ACL).read_text()
    (out / ACL).write_text("user nobody\ntopic readwrite #\n")
    (out / PASSWD).chmod(0o644)
    result = run("render", "--site", str(site_file), "--out", str(out))
    assert f"changed    {ACL}" in result.output.splitlines()
    assert f"changed    {PASSWD}  (secret, 0600)" in result.output.splitlines()
    assert (out / ACL).read_text() == rendered_acl
    assert (out / PASSWD).stat().st_mode & 0o777 == 0o600


def test_bridge_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = run("render", "--site", str(missing), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.stderr == (
        f"sensor-bridge: {missing}: site file not found: copy site.example.toml and edit it\n"
    )
    assert result.stdout == ""


def test_site_comes_from_the_environment(tmp_path: Path) -> None:
    missing = tmp_path / "from-env.toml"
    result = run("check", env={"SENSOR_SITE": str(missing)})
    assert result.exit_code == 2
    assert str(missing) in result.stderr


def test_help_imports_no_heavy_dependency() -> None:
    code = (
        "import sys\n"
        "from sensor_bridge.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('pydantic', 'sensor_bridge.render', 'sensor_bridge.checks')"
        " if m in sys.modules]\n"
        "print('heavy:', heavy)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "check" in output and "render" in output
    assert output.splitlines()[-1] == "heavy: []"


def _snapshot(root: Path) -> dict[Path, tuple[bytes, int, int]]:
    return {
        p.relative_to(root): (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# Each injection from issue 15 (Why 4): what the site file says, the key that says it, and the
# start of the problem the one line names.
_INJECTIONS = [
    pytest.param(
        'address = "0.0.0.0"',
        'address = "0.0.0.0\\nallow_anonymous true"',
        "broker.address: holds a control character (U+000A)",
        id="newline-in-listener-address",
    ),
    pytest.param(
        'persistent_client_expiration = "14d"',
        'persistent_client_expiration = "14d\\nallow_anonymous true"',
        "broker.persistent_client_expiration: holds a control character (U+000A)",
        id="newline-in-broker-option",
    ),
    pytest.param(
        'image = "docker.io/timberio/vector:0.57.0-debian"',
        'image = "x\\nExec=/bin/sh"',
        "pipeline.image: holds a control character (U+000A)",
        id="newline-in-image",
    ),
    pytest.param(
        'image = "docker.io/timberio/vector:0.57.0-debian"',
        'image = "x Exec=/bin/sh"',
        "pipeline.image: 'x Exec=/bin/sh' is not an image reference",
        id="blank-in-image",
    ),
    pytest.param(
        'data_path = "/var/lib/sensor-pipeline/victoria-metrics"',
        'data_path = "/"',
        "storage.data_path: / is not a directory of its own under /var/lib/sensor-pipeline/",
        id="data-path-root",
    ),
    pytest.param(
        'name = "sensor"',
        'name = "root"',
        "service_user.name: 'root' is a system account",
        id="service-user-root",
    ),
    pytest.param(
        'name = "Main furnace"',
        'name = "{{ $value }}"',
        "devices[0].name: holds '{{', which a Go template would run",
        id="template-in-device-name",
    ),
    pytest.param(
        'location = "Hot shop, north wall"',
        'location = "north\\nwall"',
        "devices[0].location: holds a control character (U+000A)",
        id="newline-in-device-location",
    ),
]


@pytest.mark.parametrize(("old", "new", "problem"), _INJECTIONS)
def test_render_refuses_an_injection_and_writes_nothing(
    site_file: Path, tmp_path: Path, old: str, new: str, problem: str
) -> None:
    out = tmp_path / "out"
    assert run("render", "--site", str(site_file), "--out", str(out)).exit_code == 0
    before = _snapshot(out)
    text = site_file.read_text()
    assert old in text
    site_file.write_text(text.replace(old, new, 1))

    result = run("render", "--site", str(site_file), "--out", str(out))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"sensor-bridge: {site_file}: {problem}")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n")
    assert _snapshot(out) == before
