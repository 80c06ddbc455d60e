"""The Debian 13 test host itself (tests/support/debian_host.py): it boots real systemd, takes
SSH on its loopback port (a user with sudo, as on a Pi), serves the test registry, and leaves
nothing behind."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

from tests.support.debian_host import Ssh, booted


def over_ssh(access: Ssh, command: str) -> str:
    argv = ["ssh", "-i", str(access.key), "-p", str(access.port), "-o", "BatchMode=yes"]
    argv += ["-o", f"UserKnownHostsFile={access.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
    done = subprocess.run(
        [*argv, f"{access.user}@127.0.0.1", command],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def test_a_trixie_host_boots_takes_ssh_and_goes_away(tmp_path: Path) -> None:
    with booted(tmp_path / "host") as host:
        said = over_ssh(
            host.start_ssh(),
            ". /etc/os-release; echo $VERSION_CODENAME; cat /proc/1/comm; "
            "systemctl is-system-running; whoami; sudo -n whoami",
        )
        assert said.split() == ["trixie", "systemd", "running", "pi", "root"]
        registry = host.start_registry()
        with urllib.request.urlopen(f"http://{registry}/v2/", timeout=5) as answer:
            assert answer.status == 200
        assert host.nspawn is not None
        pids = (host.init_pid, host.nspawn.pid)
    assert not (tmp_path / "host" / "root").exists()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), pid
