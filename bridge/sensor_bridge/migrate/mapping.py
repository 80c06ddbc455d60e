"""Legacy InfluxDB names → the contract's: which metric a (measurement, field) becomes, and which
``studio`` and ``device`` labels one legacy series gets. Pure functions of the site's
``[migrate.influx]`` table; nothing here talks to a server.

A migrated series carries exactly the labels live data carries (``studio``, ``device``, plus a
row's constant labels): every other tag (``host``, ``topic``, vmctl's ``db``) is dropped, so
history and live data are one series. So two legacy series can land in one target series (the
same device under an old and a new ``host`` tag): ``sensor_bridge.migrate.plan`` merges them
when their times do not overlap and refuses them when they do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sensor_bridge.errors import BridgeError
from sensor_bridge.site import InfluxMigration, LegacyField
from sensor_protocol.topics import id_problem


class MappingError(BridgeError):
    """A legacy series cannot be given the contract's labels; the message names it."""


@dataclass(frozen=True, order=True)
class LegacySeries:
    """One InfluxDB series of one field: measurement, tag set and field."""

    measurement: str
    field: str
    tags: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, measurement: str, field: str, tags: Mapping[str, str]) -> LegacySeries:
        """Tags with an empty value are absent in InfluxDB: left out."""
        return cls(measurement, field, tuple(sorted((k, v) for k, v in tags.items() if v)))

    @property
    def sort_key(self) -> tuple[str, tuple[tuple[str, str], ...], str]:
        """Measurement, tags, field: a series' fields side by side."""
        return (self.measurement, self.tags, self.field)

    def __str__(self) -> str:
        tags = "".join(f",{key}={value}" for key, value in self.tags)
        return f"{self.measurement}{tags} {self.field}"


@dataclass(frozen=True, order=True)
class Target:
    """A contract series: metric name and labels (sorted)."""

    metric: str
    labels: tuple[tuple[str, str], ...]

    def label_dict(self) -> dict[str, str]:
        return {"__name__": self.metric, **dict(self.labels)}

    def selector(self) -> str:
        """The exact MetricsQL selector, e.g. ``furnace_furnace_temp{device="f-1",studio="s"}``."""
        labels = ",".join(f'{key}="{_escape(value)}"' for key, value in self.labels)
        return f"{self.metric}{{{labels}}}"

    def __str__(self) -> str:
        return self.selector()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class NameMap:
    """The site's ``[migrate.influx]`` table, ready to map series."""

    def __init__(self, config: InfluxMigration, studio: str) -> None:
        self.config = config
        self.studio = studio
        self._rows = {(row.measurement, row.field): row for row in config.fields}

    @property
    def measurements(self) -> list[str]:
        """Measurements with at least one mapped field, sorted."""
        return sorted({row.measurement for row in self.config.fields})

    def row(self, measurement: str, field: str) -> LegacyField | None:
        return self._rows.get((measurement, field))

    def target(self, series: LegacySeries) -> Target:
        """The contract series ``series`` becomes; MappingError when it has no mapping row or
        its device or studio cannot be told."""
        row = self.row(series.measurement, series.field)
        if row is None:
            raise MappingError(f"{series}: no [[migrate.influx.fields]] row for this field")
        tags = dict(series.tags)
        labels = {
            **row.labels,
            "studio": self._studio(series, tags),
            "device": self._device(series, tags),
        }
        return Target(row.metric, tuple(sorted(labels.items())))

    def _device(self, series: LegacySeries, tags: dict[str, str]) -> str:
        legacy = tags.get(self.config.device_tag)
        if legacy is None:
            if self.config.default_device is None:
                raise MappingError(
                    f"{series}: no {self.config.device_tag!r} tag: set "
                    "[migrate.influx] default_device, or device_tag to the tag naming the device"
                )
            return self.config.default_device
        device = self.config.devices.get(legacy, legacy)
        problem = id_problem(device)
        if problem is not None:
            raise MappingError(
                f"{series}: device {legacy!r} is not an id ({problem}): map it under "
                f'[migrate.influx.devices], e.g. "{legacy}" = "furnace-1"'
            )
        return device

    def _studio(self, series: LegacySeries, tags: dict[str, str]) -> str:
        if self.config.studio_tag is None:
            return self.studio
        studio = tags.get(self.config.studio_tag)
        if studio is None or id_problem(studio) is not None:
            raise MappingError(
                f"{series}: tag {self.config.studio_tag!r} does not hold a studio id "
                f"({studio!r}); fix [migrate.influx] studio_tag"
            )
        return studio
