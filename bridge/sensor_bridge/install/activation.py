"""Which units restart or reload because of which changed files.

A quadlet (``*.container``) needs the user manager's daemon-reload (the generator reads it) and a
restart of the unit it becomes. Any other file belongs to a service of the registry, whose
``on_change`` (next to the renderer that knows the file) says what its change asks of the
service's unit; without one, any change restarts it. Dashboards need nothing here
(``sensor-bridge dashboards push`` sends them). A file of a service the registry does not know
is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sensor_bridge.registry import RESTART, Service, by_name
from sensor_bridge.render import dashboards


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
    stop: tuple[Unit, ...] = ()
    """Units whose quadlet a rollback removed (a first deploy's): after the daemon-reload they
    no longer exist, so they are stopped, never restarted."""

    @property
    def empty(self) -> bool:
        return not (self.user_daemon_reload or self.restart or self.reload or self.stop)

    def as_json(self) -> dict[str, Any]:
        return {
            "user_daemon_reload": self.user_daemon_reload,
            "restart": [[u.name, u.user] for u in self.restart],
            "reload": [[u.name, u.user] for u in self.reload],
            "stop": [[u.name, u.user] for u in self.stop],
        }

    def merged(self, other: Activation) -> Activation:
        """Both together: a swap on top of one whose restarts never ran keeps them."""
        return _activation(
            self.user_daemon_reload or other.user_daemon_reload,
            set(self.restart) | set(other.restart),
            set(self.reload) | set(other.reload),
            set(self.stop) | set(other.stop),
        )

    def stopping(self, units: Iterable[Unit]) -> Activation:
        """The same, with ``units`` stopped instead of restarted or reloaded."""
        stop = set(self.stop) | set(units)
        return _activation(self.user_daemon_reload, set(self.restart), set(self.reload), stop)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Activation:
        return cls(
            bool(data["user_daemon_reload"]),
            tuple(Unit(name, bool(user)) for name, user in data["restart"]),
            tuple(Unit(name, bool(user)) for name, user in data["reload"]),
            tuple(Unit(name, bool(user)) for name, user in data["stop"]),
        )


def _activation(
    daemon_reload: bool, restart: set[Unit], reload: set[Unit], stop: set[Unit]
) -> Activation:
    """A unit stopped is neither restarted nor reloaded; one restarted is not reloaded."""
    restart -= stop
    return Activation(
        daemon_reload,
        tuple(sorted(restart)),
        tuple(sorted(reload - restart - stop)),
        tuple(sorted(stop)),
    )


def unit_of(entry: Service) -> Unit:
    return Unit(entry.unit, entry.user)


Action = tuple[str, Unit] | None


def action(path: PurePosixPath, service_name: str) -> Action:
    """What the change of one file asks of which unit; None: nothing."""
    if path.suffix == ".container":
        return RESTART, Unit(f"{path.stem}.service", True)
    if service_name == dashboards.NAME:
        return None
    try:
        entry = by_name(service_name)
    except ValueError:
        raise ValueError(f"no activation rule for {path} (service {service_name!r})") from None
    wanted = RESTART if entry.on_change is None else entry.on_change.load()(path)
    return None if wanted is None else (wanted, unit_of(entry))


def removed_units(removed: Iterable[PurePosixPath]) -> list[Unit]:
    """The units whose quadlet is among the ``removed`` files."""
    return [Unit(f"{path.stem}.service", True) for path in removed if path.suffix == ".container"]


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
