"""The wheel the deploy installs carries the listed firmware files, and no board's secrets."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from sensor_bridge.local.examples import REPO_ROOT

# What a checkout may hold beside the firmware (all git-ignored): a board's settings.toml with
# its Wi-Fi and MQTT passwords, CircuitPython's old secrets.py, a virtual board's state.
PLANTED = [
    "firmware/settings.toml",
    "firmware/secrets.py",
    "firmware/.virtual/nvm",
    "firmware/lib/sensor_node/secrets.py",
    "firmware/lib/.virtual/nvm",
    "boards/secrets.py",
    "boards/settings.toml",
]
SOURCES = [
    "pyproject.toml",
    "hatch_build.py",
    "README.md",
    ".gitignore",
    "bridge",
    "firmware",
    "boards",
]


def _hatch() -> str:
    """The hatch that runs the tests (on PATH, or the checkout's own, as .ci/run installs it)."""
    found = shutil.which("hatch") or REPO_ROOT / ".tools/hatch/bin/hatch"
    assert Path(found).is_file(), "no hatch on PATH or in .tools/hatch: see .ci/run"
    return str(found)


def test_wheel_takes_no_secret_of_the_tree(tmp_path: Path) -> None:
    tree = tmp_path / "checkout"
    tree.mkdir()
    for name in SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tree / name)
    for name in PLANTED:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text('CIRCUITPY_WIFI_PASSWORD = "s3ntinel"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATCH_ENV")}

    subprocess.run(
        [_hatch(), "build", "-t", "wheel", str(tmp_path / "dist")],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )

    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert not [n for n in names if b"s3ntinel" in archive.read(n)]
    packaged = {
        n.removeprefix("sensor_firmware/") for n in names if n.startswith("sensor_firmware")
    }
    assert not packaged & set(PLANTED)
    # What the bundle and the site's board ids read on a Pi (sensor_bridge.bundle).
    assert {
        "firmware/code.py",
        "firmware/safemode.py",
        "firmware/settings.toml.example",
        "firmware/lib/sensor_protocol/wire.py",
        "firmware/lib/sensor_node/node.py",
        "boards/__init__.py",
        "boards/raspberry_pi_pico_w.py",
    } <= packaged
    # The contract and the device logic are packages of the wheel as well (the host package
    # imports them), beside their copies in the firmware tree.
    assert {"sensor_protocol/wire.py", "sensor_node/node.py"} <= set(names)
