"""A real Mosquitto started by a test: loopback port, temp dir, stopped after.

``Mosquitto``: a broker configured by the test. Persistence is on, as on the Pi, so a restart
keeps retained messages and the pipeline's persistent session. ``users`` turns on
authentication with a password file made by the real ``mosquitto_passwd``; ``acl`` is the text
of an ACL file.

``RenderedMosquitto``: a broker on the rendered conf.d file, as ``sensor-bridge check`` runs it
(inside Debian's main config, listeners moved to loopback ports, files read from the tree).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Self

from sensor_bridge.checks.mosquitto import runnable_config
from sensor_bridge.checks.process import free_port, wait_listening
from sensor_bridge.local.tools import require_tool
from sensor_bridge.render import RenderedFile


class _Broker:
    """One broker process; ``start``/``stop``/``kill``/``restart`` keep the same port and store."""

    def __init__(self, workdir: Path, conf_path: Path, port: int) -> None:
        self.workdir = workdir
        self.conf_path = conf_path
        self.port = port
        self.log_path = workdir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def listening_ports(self) -> tuple[int, ...]:
        """Ready once each listens: Mosquitto opens its listeners one after another."""
        return (self.port,)

    def start(self) -> Self:
        self._proc = subprocess.Popen(
            [str(require_tool("mosquitto")), "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            for port in self.listening_ports:
                wait_listening(port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"mosquitto did not start; log: {self.log_text()[-2000:]}") from None
        return self

    def stop(self) -> None:
        """Graceful stop: Mosquitto saves its store (sessions, retained, queued QoS 1)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGTERM)
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            if self._proc.stderr is not None:
                self._proc.stderr.close()
            self._proc = None

    def kill(self) -> None:
        """Crash: no chance to save or to say goodbye to clients."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            if self._proc.stderr is not None:
                self._proc.stderr.close()
            self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Mosquitto(_Broker):
    """A broker on a config written by the test."""

    def __init__(
        self,
        workdir: Path,
        *,
        users: dict[str, str] | None = None,
        acl: str | None = None,
        keepalive_max: int | None = None,
    ) -> None:
        super().__init__(workdir, workdir / "mosquitto.conf", free_port())
        self.users = users
        lines = [
            # As root Mosquitto drops to user "mosquitto", which cannot write the temp dir.
            *(["user root"] if os.geteuid() == 0 else []),
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {workdir}/",
            "autosave_interval 1",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
        ]
        if users:
            passwd = workdir / "passwd"
            passwd.touch(mode=0o600)
            for user, password in users.items():
                subprocess.run(
                    [str(require_tool("mosquitto_passwd")), "-b", str(passwd), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if acl is not None:
            acl_path = workdir / "acl"
            acl_path.write_text(acl)
            lines.append(f"acl_file {acl_path}")
        if keepalive_max is not None:
            lines.append(f"max_keepalive {keepalive_max}")
        self.conf_path.write_text("\n".join(lines) + "\n")


class RenderedMosquitto(_Broker):
    """A broker on the rendered ``conf`` (its password file and ACL read from the tree ``root``).

    ``port`` is where the LAN listener listens here; ``ports`` maps every rendered listener port.
    """

    def __init__(
        self, workdir: Path, root: Path, conf: RenderedFile, *, as_deployed: bool = False
    ) -> None:
        """``as_deployed``: each listener on its rendered address, the broker as the live one
        runs (else on 127.0.0.1, as whoever runs this)."""
        config = runnable_config(
            root, conf, workdir, log=workdir / "mosquitto.log", as_deployed=as_deployed
        )
        super().__init__(workdir, config.conf, next(iter(config.ports.values())))
        self.ports = config.ports

    @property
    def listening_ports(self) -> tuple[int, ...]:
        return tuple(self.ports.values())
