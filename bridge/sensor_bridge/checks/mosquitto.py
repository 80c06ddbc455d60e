"""Mosquitto: start the real broker on the rendered conf.d file, as Debian's mosquitto.conf would.

The rendered file is included by a main config that mirrors Debian's (``persistence true``,
``persistence_location``, ``log_dest file``, ``include_dir``), so an option Debian already sets
fails here as it would on the Pi. Listeners move to free ports on their rendered address (a
wrong ``broker.address`` fails here, not after the swap) and the files the config names
(password file, ACL, TLS certificates) to the rendered tree, or to the live path when the tree
does not hold them. Run as root (the deploy), the broker drops to the ``mosquitto`` user as the
live one does, so what that user cannot read or bind fails the check. OK when every listener
accepts connections and the broker logged no error (it only logs some, such as a password
entry it cannot decode, and goes on).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, CheckResult
from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.checks.tools import find_tool, tool_version
from sensor_bridge.registry import MOSQUITTO
from sensor_bridge.render import RenderedFile

NAME = MOSQUITTO.name
START_TIMEOUT_S = 10.0
# Options whose value is a file or directory the broker opens.
_PATH_OPTIONS = ("password_file", "acl_file", "certfile", "keyfile", "cafile", "capath")
_ERROR = r"\bError\b"
_RUNNING = r"mosquitto version \S+ running"
_PORT_TAKEN = "Address already in use"
_NOT_HERE = "Cannot assign requested address"
BROKER_USER = "mosquitto"
"""Debian's package runs the broker as root, which switches to this user (mosquitto.conf's
``user`` default) before it reads the password file and the ACL."""
PORT_ATTEMPTS = 3
"""The loopback ports are free when picked; another process may take one before the broker
binds it: then the check starts again on new ports."""


@dataclass(frozen=True)
class RunnableConfig:
    """A rendered broker config made runnable in ``workdir``."""

    conf: Path
    """The main config to pass to ``mosquitto -c``."""
    ports: dict[int, int]
    """Each rendered listener port and the loopback port it listens on here."""
    files: dict[str, Path]
    """Each file option's rendered value and where this run reads it from."""


def runnable_config(
    root: Path,
    conf: RenderedFile,
    workdir: Path,
    log: Path | None = None,
    *,
    as_deployed: bool = False,
) -> RunnableConfig:
    """Write a main config in ``workdir`` that includes a remapped copy of ``conf``.

    Listeners bind 127.0.0.1 and the broker stays the user running it; ``as_deployed``, they
    bind the address they were rendered with and the broker runs as the live one would.
    The broker logs everything to ``log``, or to stderr.
    """
    root = root.resolve()
    user = broker_user() if as_deployed else _current_user()
    ports: dict[int, int] = {}
    files: dict[str, Path] = {}
    lines = []
    for line in conf.text.splitlines():
        words = line.split()
        if words and words[0] == "listener":
            ports[int(words[1])] = free_port()
            bind = " ".join(words[2:]) if as_deployed else "127.0.0.1"
            lines.append(f"listener {ports[int(words[1])]} {bind}".rstrip())
        elif words and words[0] in _PATH_OPTIONS and len(words) == 2:
            files[words[1]] = _readable_by(user, _located(root, words[1]), root, workdir)
            lines.append(f"{words[0]} {files[words[1]]}")
        else:
            lines.append(line)
    include_dir = workdir / "conf.d"
    include_dir.mkdir(parents=True, exist_ok=True)
    (include_dir / conf.path.name).write_text("\n".join(lines) + "\n")
    store = workdir / "store"
    store.mkdir(exist_ok=True)
    _give(user, workdir, store)
    # A log file (for tests to read) gets everything; stderr only Mosquitto's default levels.
    logging = [f"log_dest file {log}", "log_type all"] if log is not None else ["log_dest stderr"]
    main = workdir / "mosquitto.conf"
    main_lines = [
        f"user {user}",
        # Debian's mosquitto.conf, with its store in the work dir.
        "persistence true",
        f"persistence_location {store}/",
        *logging,
        f"include_dir {include_dir}",
    ]
    main.write_text("\n".join(main_lines) + "\n")
    return RunnableConfig(main, ports, files)


def broker_user() -> str:
    """As root: the user the live broker runs as (when the host has it); else whoever runs."""
    if os.geteuid() == 0:
        try:
            return pwd.getpwnam(BROKER_USER).pw_name
        except KeyError:
            pass
    return _current_user()


def _current_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def _located(root: Path, path: str) -> Path:
    rendered = root / path.lstrip("/")
    return rendered if rendered.exists() else Path(path)


def _readable_by(user: str, path: Path, root: Path, workdir: Path) -> Path:
    """A rendered file (root's, 0600) copied into ``workdir`` for ``user``, as the deploy's
    swap gives it to the broker's user; a live file is read where it is, as the broker would."""
    if user == _current_user() or not path.is_relative_to(root):
        return path
    base = workdir / "files"
    copy = base / path.relative_to(root)
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, copy)
    copy.chmod(0o600)
    _give(user, copy, *(d for d in copy.parents if d.is_relative_to(base)))
    return copy


def _give(user: str, *paths: Path) -> None:
    """``paths`` owned by ``user`` (only root changes owners; anyone else already owns them)."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def check(root: Path, files: Sequence[RenderedFile]) -> list[CheckResult]:
    results: list[CheckResult] = []
    for conf in (f for f in files if f.check == NAME):
        results += _check_conf(root, conf, files)
    return results


def _check_conf(root: Path, conf: RenderedFile, files: Sequence[RenderedFile]) -> list[CheckResult]:
    tool = find_tool("mosquitto")
    if tool is None:
        return [CheckResult(str(conf.path), NAME, "-", NOT_CHECKED, "apt-get install mosquitto")]
    version = tool_version(tool)
    for _ in range(PORT_ATTEMPTS):
        started, detail, config = _start(tool, root, conf)
        if _PORT_TAKEN not in detail:
            break
    if started and not detail:
        result, detail = OK, f"listening on {len(config.ports)} listener(s)"
    else:
        result, detail = FAILED, detail or "no listener came up"
    # The password file and ACL are loaded (and so checked) by the same start.
    loaded = [f.path for f in files if f"/{f.path}" in config.files]
    return [CheckResult(str(p), NAME, version, result, detail) for p in [conf.path, *loaded]]


def _start(tool: Path, root: Path, conf: RenderedFile) -> tuple[bool, str, RunnableConfig]:
    """Start the broker on the rendered config: whether it came up, its first error lines."""
    with tempfile.TemporaryDirectory(prefix="check-mosquitto-") as tmp:
        workdir = Path(tmp)
        config = runnable_config(root, conf, workdir, as_deployed=True)
        broker = Service([tool, "-c", config.conf], workdir / "mosquitto.log")
        with broker:
            # Mosquitto says "running" once every listener is open: a port probe could be
            # answered by another process that took one of the free ports meanwhile.
            started = broker.wait_until(lambda: bool(broker.error_lines(_RUNNING)), START_TIMEOUT_S)
        errors = broker.error_lines(_ERROR)
        copy = str(workdir / "conf.d" / conf.path.name)
        detail = " ".join(_untimed(e).replace(copy, f"/{conf.path}") for e in errors[:2])
    if _NOT_HERE in detail:
        detail = (
            f"broker.address {' '.join(_foreign(conf))} is not an address of this host "
            "(Mosquitto: Cannot assign requested address): set broker.address in the site file "
            "to one of this host's addresses, or 0.0.0.0 for all of them"
        )
    return started, detail, config


def _foreign(conf: RenderedFile) -> list[str]:
    """The listener addresses nothing on this host can bind (Mosquitto's log does not say)."""
    words = [line.split() for line in conf.text.splitlines()]
    found = []
    for address in sorted({w[2] for w in words if len(w) > 2 and w[0] == "listener"}):
        try:
            infos = socket.getaddrinfo(address, 0, type=socket.SOCK_STREAM)
            family, _, _, _, sockaddr = infos[0]
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.bind(sockaddr)
        except OSError:
            found.append(address)
    return found


def _untimed(line: str) -> str:
    """A log line without Mosquitto's leading ``<epoch>: `` stamp."""
    stamp, sep, rest = line.partition(": ")
    return rest if sep and stamp.isdigit() else line
