"""Running the real pyinfra deploy (``deploy/``) from tests: on a staging root, or @fake."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sensor_bridge.local.tools import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy" / "deploy.py"
ROLLBACK = REPO_ROOT / "deploy" / "rollback.py"
SENSOR_BRIDGE = Path(sys.executable).parent / "sensor-bridge"
TRIXIE = (
    'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\n'
    'VERSION="13 (trixie)"\nVERSION_CODENAME=trixie\nID=debian\n'
)
BOOKWORM = (
    TRIXIE.replace("13 (trixie)", "12 (bookworm)")
    .replace('"13"', '"12"')
    .replace("trixie", "bookworm")
)
_TOTAL = re.compile(r"^\s*Grand total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str

    def totals(self) -> dict[str, int]:
        """pyinfra's Grand total row: operations that changed, failed, changed nothing."""
        match = _TOTAL.search(self.output)
        assert match is not None, self.output
        count = [0 if cell == "-" else int(cell) for cell in match.groups()]
        return {
            "operations": count[0],
            "changed": count[1],
            "error": count[2],
            "no change": count[3],
        }


def pyinfra(inventory: str, deploy_file: Path, *args: str, timeout: float = 120) -> Run:
    """``python -m pyinfra INVENTORY DEPLOY ARGS`` from the repository root (as hatch runs it)."""
    env = {**os.environ, "PYINFRA_FAKE_DELAY": "0", "PYINFRA_FAKE_DELAY_JITTER": "0"}
    run = subprocess.run(
        [sys.executable, "-m", "pyinfra", inventory, str(deploy_file), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(run.returncode, run.stdout + run.stderr)


def staging_root(root: Path, os_release: str = TRIXIE) -> Path:
    """A root the deploy may write under: its os-release says what preflight sees."""
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "os-release").write_text(os_release)
    return root


def deploy_on_root(root: Path, site_file: Path, deploy_file: Path = DEPLOY) -> Run:
    """The deploy @local on a staging root, with this environment's sensor-bridge."""
    return pyinfra(
        "@local",
        deploy_file,
        "-y",
        "--data",
        f"root={root}",
        "--data",
        f"site_file={site_file}",
        "--data",
        f"sensor_bridge={SENSOR_BRIDGE}",
    )


RULES = "home/sensor/.config/sensor-pipeline/vmalert/rules.yaml"
FURNACE_DASHBOARD = "home/sensor/.config/sensor-pipeline/dashboards/furnace.json"
"""The dashboard that draws the thresholds: one threshold's edit rewrites it and the rules."""
BROKER_CONF = "etc/mosquitto/conf.d/sensor-pipeline.conf"
EXPIRATION = 'persistent_client_expiration = "14d"'
TYPO = 'persistent_client_expiration = "89478486d"'
"""2^31 hours and a few: the site file accepts it; Mosquitto reads the hours as a C int, gets a
negative number and refuses it, so only the broker's check catches it."""


def edit_first_threshold(site_file: Path) -> None:
    """The first device's too_hot_c, raised by 10.5 degrees."""
    lines = site_file.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith("too_hot_c = "))
    value = float(lines[index].split("=")[1])
    lines[index] = f"too_hot_c = {value + 10.5}\n"
    site_file.write_text("".join(lines))
