"""Which units restart or reload because of which changed files.

Rules, per file (a file no rule covers is an error, so a new renderer has to say what its
files need):

* a quadlet (``*.container``): the user manager's daemon-reload (the generator reads it) and a
  restart of the unit it becomes;
* Mosquitto: its conf.d file needs a restart (listeners are not reloaded); the password file
  and the ACL a reload (SIGHUP re-reads both);
* Vector's config or secrets file: restart; its ``tests.yaml`` is only read by ``vector test``,
  its tmpfiles rule by the user's cleanup timer: neither restarts anything;
* vmalert's rules: restart (the quadlet defines no reload; alert state survives through
  ``-remoteRead``);
* Alertmanager's config: reload; its flags file: restart;
* monit: restart (monitrc holds the web interface's listener);
* Alloy's config: reload (SIGHUP); its environment file: restart;
* dashboards: nothing here (``sensor-bridge dashboards push`` sends them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sensor_bridge.render import alertmanager, alloy, dashboards, monit, mosquitto, vector, vmalert

MOSQUITTO_SERVICE = "mosquitto"
"""The ``service`` of Mosquitto's rendered files (render.mosquitto has no NAME constant)."""

RESTART = "restart"
RELOAD = "reload"


@dataclass(frozen=True, order=True)
class Unit:
    name: str
    user: bool
    """A unit of the service user's manager (``systemctl --user --machine=USER@.host``)."""


@dataclass(frozen=True)
class Activation:
    user_daemon_reload: bool = False
    restart: tuple[Unit, ...] = ()
    reload: tuple[Unit, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.user_daemon_reload or self.restart or self.reload)

    def as_json(self) -> dict[str, Any]:
        return {
            "user_daemon_reload": self.user_daemon_reload,
            "restart": [[u.name, u.user] for u in self.restart],
            "reload": [[u.name, u.user] for u in self.reload],
        }

    def merged(self, other: Activation) -> Activation:
        """Both together: a swap on top of one whose restarts never ran keeps them."""
        restart = set(self.restart) | set(other.restart)
        reload = (set(self.reload) | set(other.reload)) - restart
        return Activation(
            self.user_daemon_reload or other.user_daemon_reload,
            tuple(sorted(restart)),
            tuple(sorted(reload)),
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Activation:
        return cls(
            bool(data["user_daemon_reload"]),
            tuple(Unit(name, bool(user)) for name, user in data["restart"]),
            tuple(Unit(name, bool(user)) for name, user in data["reload"]),
        )


def _system(name: str) -> Unit:
    return Unit(name, False)


def _user(name: str) -> Unit:
    return Unit(name, True)


MOSQUITTO = _system("mosquitto.service")
ALERTMANAGER = _system("prometheus-alertmanager.service")
MONIT = _system("monit.service")
ALLOY = _system("alloy.service")

VECTOR = _user(f"{vector.NAME}.service")
VMALERT = _user(f"{vmalert.NAME}.service")

Action = tuple[str, Unit] | None


def _vector(path: PurePosixPath) -> Action:
    # tests.yaml is read by `vector test` only, the tmpfiles rule by the cleanup timer.
    if path.name == "tests.yaml" or path.suffix == ".conf":
        return None
    return RESTART, VECTOR


_RULES: dict[str, Callable[[PurePosixPath], Action]] = {
    MOSQUITTO_SERVICE: lambda p: (RESTART if p == mosquitto.CONF_PATH else RELOAD, MOSQUITTO),
    vector.NAME: _vector,
    vmalert.NAME: lambda p: (RESTART, VMALERT),
    alertmanager.NAME: lambda p: (
        RELOAD if p == alertmanager.CONFIG_PATH else RESTART,
        ALERTMANAGER,
    ),
    monit.NAME: lambda p: (RESTART, MONIT),
    alloy.NAME: lambda p: (RELOAD if p == alloy.CONFIG_PATH else RESTART, ALLOY),
    dashboards.NAME: lambda p: None,
}


def action(path: PurePosixPath, service: str) -> Action:
    """What the change of one file asks of which unit; None: nothing."""
    if path.suffix == ".container":
        return RESTART, _user(f"{path.stem}.service")
    rule = _RULES.get(service)
    if rule is None:
        raise ValueError(f"no activation rule for {path} (service {service!r})")
    return rule(path)


def activation_for(changed: Iterable[tuple[PurePosixPath, str]]) -> Activation:
    """The activation of a set of changed files, each given as (path, service)."""
    restart: set[Unit] = set()
    reload: set[Unit] = set()
    daemon_reload = False
    for path, service in changed:
        daemon_reload |= path.suffix == ".container"
        wanted = action(path, service)
        if wanted is not None:
            (restart if wanted[0] == RESTART else reload).add(wanted[1])
    return Activation(daemon_reload, tuple(sorted(restart)), tuple(sorted(reload - restart)))
