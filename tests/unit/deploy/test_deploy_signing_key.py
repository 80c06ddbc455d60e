"""Grafana's apt key is installed by fingerprint: the keyring gets the pinned key alone, and a
key file without it stops the deploy with one line. Real gpg and curl, on throwaway keys."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sensor_bridge.install.host_setup import PRIMARY_FINGERPRINTS, pinned_key_script
from sensor_bridge.local.tools import require_tool
from sensor_bridge.registry import GRAFANA


def _new_key(home: Path, name: str) -> str:
    """A throwaway signing key in ``home``; its fingerprint."""
    gpg = require_tool("gpg")
    subprocess.run(
        [
            *(gpg, "--homedir", str(home), "--batch", "--passphrase", "", "--quick-gen-key"),
            *(f"{name} <{name}@example.invalid>", "ed25519", "sign", "never"),
        ],
        check=True,
        capture_output=True,
    )
    return _fingerprints(home, f"{name}@example.invalid")[0]


def _fingerprints(home: Path, who: str) -> list[str]:
    listing = subprocess.run(
        ["gpg", "--homedir", str(home), "--with-colons", "--list-keys", who],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")][:1]


def _exported(home: Path, path: Path, *fingerprints: str) -> Path:
    armored = subprocess.run(
        ["gpg", "--homedir", str(home), "--armor", "--export", *fingerprints],
        check=True,
        capture_output=True,
    ).stdout
    path.write_bytes(armored)
    return path


def _primaries(path: Path) -> list[str]:
    out = subprocess.run(
        ["sh", "-c", PRIMARY_FINGERPRINTS.format(path=path)],
        check=False,
        capture_output=True,
        text=True,
    )
    return out.stdout.split()


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    require_tool("curl")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    yield home, _new_key(home, "pinned"), _new_key(home, "other")
    # Key generation started an agent for this home.
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=True)


def test_only_the_pinned_key_reaches_the_keyring(
    tmp_path: Path, keys: tuple[Path, str, str]
) -> None:
    home, pinned, other = keys
    served = _exported(home, tmp_path / "gpg-full.key", pinned, other)
    keyring = tmp_path / "keyrings" / "grafana.asc"
    keyring.parent.mkdir()
    repository = replace(GRAFANA, key_url=served.as_uri(), keyring=str(keyring), fingerprint=pinned)

    run = subprocess.run(
        ["sh", "-c", pinned_key_script(repository)], check=False, capture_output=True
    )

    assert run.returncode == 0, run.stderr
    assert _primaries(served) == [pinned, other]
    assert _primaries(keyring) == [pinned]
    assert keyring.stat().st_mode & 0o777 == 0o644


def test_a_key_file_without_the_pinned_key_stops_with_one_line(
    tmp_path: Path, keys: tuple[Path, str, str]
) -> None:
    """What main did (``files.download``) installed whatever key the server sent."""
    home, pinned, other = keys
    served = _exported(home, tmp_path / "gpg-full.key", other)
    keyring = tmp_path / "grafana.asc"
    keyring.write_text("the key installed before\n")
    repository = replace(GRAFANA, key_url=served.as_uri(), keyring=str(keyring), fingerprint=pinned)

    run = subprocess.run(
        ["sh", "-c", pinned_key_script(repository)], check=False, capture_output=True, text=True
    )

    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"{served.as_uri()} holds no key {pinned}: Grafana's signing key changed; check its "
        "new fingerprint and update Grafana's in sensor_bridge/registry.py"
    ]
    assert keyring.read_text() == "the key installed before\n"
