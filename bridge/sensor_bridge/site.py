"""The site file: what one studio has, declared once; every service's config is rendered from it.

``load_site(path)`` reads and validates ``site.toml``; ``load_secrets(site)`` reads the secrets
file it points to. Both raise ``SiteError`` with one line that names the problem and the fix.
Secrets never live in the site file.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import stat
import tomllib
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from sensor_bridge import images, tls
from sensor_bridge.alerting import durations
from sensor_bridge.errors import SiteError
from sensor_bridge.install.layout import SITE_DIR, STATE_DIR
from sensor_bridge.store import urls as store_urls
from sensor_bridge.store.urls import StoreUrls
from sensor_bridge.tls import Authority
from sensor_protocol.topics import DEFAULT_ROOT, id_problem

DEFAULT_SITE_PATH = Path("site.toml")
DEPLOYED_SITE_PATH = Path("/") / SITE_DIR / "site.toml"
"""Where a deploy to a Pi over SSH puts the site file (root's to read)."""
SITE_ENV = "SENSOR_SITE"

# The versions the test suite ran; the deploy installs exactly these.
VICTORIA_METRICS_VERSION = "v1.112.0"
VECTOR_VERSION = "0.57.0"

VECTOR_MIN_DISK_BUFFER_BYTES = 268435488
"""Vector refuses a smaller disk buffer."""


def _valid_id(value: str) -> str:
    problem = id_problem(value)
    if problem is not None:
        raise ValueError(f"id {value!r} {problem}")
    return value


def _valid_duration(value: str) -> str:
    durations.split(value)
    return value


Id = Annotated[str, AfterValidator(_valid_id)]
Duration = Annotated[str, AfterValidator(_valid_duration)]
Port = Annotated[int, Field(ge=1, le=65535)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _valid_clock_time(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"{value!r} is not a time of day like 07:30 (24-hour clock)")
    return value


ClockTime = Annotated[str, AfterValidator(_valid_clock_time)]


class IdleSchedule(_Model):
    """The furnace turned down (or off) every night: other thresholds from ``start`` to ``end``
    (local times in ``alerts.timezone``; ``start`` after ``end`` spans midnight)."""

    start: ClockTime = "20:00"
    end: ClockTime = "06:00"
    too_hot_c: float = Field(1150.0, ge=-50, le=1800)
    too_cold_c: float | None = Field(None, ge=-50, le=1800)
    """None: no too-cold alert while idle."""
    flame: bool = True
    """False: the furnace is off at night, so no flame-out or erratic-flame alert then."""

    @model_validator(mode="after")
    def _ordered(self) -> IdleSchedule:
        if self.start == self.end:
            raise ValueError("idle start and end are the same time")
        if self.too_cold_c is not None and self.too_cold_c >= self.too_hot_c:
            raise ValueError(
                f"idle too_cold_c ({self.too_cold_c}) must be below too_hot_c ({self.too_hot_c})"
            )
        return self


class Thresholds(_Model):
    """Per-device alert thresholds, in degrees Celsius and volts, and how long each must hold.

    The defaults are tuned on the virtual furnace (``virtual.furnace``): a lit flame reads
    3.5 V ± 0.22 V (burner cycling), an out one 0.05 V; a steady furnace holds ±2.5 °C.
    """

    too_hot_c: float = Field(1250.0, ge=-50, le=1800)
    too_hot_for: Duration = "2m"
    too_cold_c: float = Field(1000.0, ge=-50, le=1800)
    too_cold_for: Duration = "10m"
    cold_while_flame_out: bool = False
    """False: no too-cold alert while the flame is out (turned off, cooling): flame out says it."""
    flame_min_v: float = Field(1.0, ge=0, le=12)
    flame_out_for: Duration = "10s"
    erratic_window: Duration = "5m"
    erratic_stddev_v: float = Field(0.6, gt=0, le=12)
    erratic_for: Duration = "2m"
    no_data_for: Duration = "2m"
    idle: IdleSchedule | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.too_cold_c >= self.too_hot_c:
            raise ValueError(
                f"too_cold_c ({self.too_cold_c}) must be below too_hot_c ({self.too_hot_c})"
            )
        return self


class Device(_Model):
    """One sensor node on a furnace."""

    id: Id
    board: str
    name: str = ""
    location: str = ""
    thresholds: Thresholds = Thresholds()
    tls: bool = True
    """False: the board connects in plain MQTT (its password crosses the LAN in clear), for a
    board whose heap cannot afford TLS; needs ``[broker] plain_lan``."""

    @field_validator("board")
    @classmethod
    def _known_board(cls, value: str) -> str:
        from sensor_bridge.bundle import supported_boards

        boards = supported_boards()
        if value not in boards:
            raise ValueError(f"board {value!r} is not supported; use one of {', '.join(boards)}")
        return value

    @model_validator(mode="after")
    def _tls_fits_the_board(self) -> Device:
        from sensor_bridge.provision import board_numbers

        if self.tls and not board_numbers(self.board).TLS:
            raise ValueError(
                f"device {self.id}: a {self.board} has no heap for TLS beside its readings "
                '(README, "Boards and TLS"): set tls = false on it and plain_lan = true under '
                "[broker], or use a board that has (raspberry_pi_pico2_w)"
            )
        return self


# The kinds of value the site file holds, one check each; every field below names its kind.
# Whatever the kind, no key or string in the site file may hold a control character or "{{"
# (``_plain``, run on the whole file before the fields): each goes into a config file or a Go
# template somewhere, where a line break starts a directive of its own and "{{" an action. The
# secrets are escaped or checked where each goes (provisioning escapes a Wi-Fi password).

_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _valid_host(value: str) -> str:
    """An IP literal (v4 or v6), or a host name of RFC 1123 labels; a dotted name ending in
    digits is a mistyped IPv4 address, not a name."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        labels = value.split(".")
        if (
            len(value) > 253
            or not all(_HOST_LABEL.fullmatch(label) for label in labels)
            or labels[-1].isdigit()
        ):
            raise ValueError(
                f"{value!r} is not an IP address or host name like 192.168.1.10 or pi.local"
            ) from None
    return value


def _valid_absolute_path(value: Path) -> Path:
    if not value.is_absolute() or ".." in value.parts:
        raise ValueError(f"{value} is not an absolute path: write it from /, without '..'")
    return value


DATA_TREE = PurePosixPath("/") / STATE_DIR.parent
"""Where every data directory lives; the deploy gives each to the service user (chown)."""


def _valid_data_path(value: Path) -> Path:
    _valid_absolute_path(value)
    path = PurePosixPath(value)
    state = PurePosixPath("/") / STATE_DIR
    if not path.is_relative_to(DATA_TREE) or path == DATA_TREE or path.is_relative_to(state):
        raise ValueError(
            f"{value} is not a directory of its own under {DATA_TREE}/ (the deploy gives it to "
            f"the service user; {state} is the deploy's): use e.g. {DATA_TREE}/<service>"
        )
    return value


def _valid_image(value: str) -> str:
    images.parse(value)
    return value


# Debian's own accounts (base-passwd's passwd.master, uid 0 to 99, and nobody) and the daemon
# users of the packages the deploy installs (mosquitto; prometheus runs Alertmanager): the
# deploy chowns the data directories and the quadlets to the service user.
SYSTEM_USERS = frozenset(
    (
        "root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc "
        "_apt nobody mosquitto prometheus messagebus sshd polkitd"
    ).split()
)


def _valid_service_user(value: str) -> str:
    if value in SYSTEM_USERS or value.startswith(("systemd-", "_")):
        raise ValueError(
            f"{value!r} is a system account: name a user of its own for the containers, e.g. "
            '"sensor"'
        )
    return value


Host = Annotated[str, AfterValidator(_valid_host)]
AbsolutePath = Annotated[Path, AfterValidator(_valid_absolute_path)]
DataPath = Annotated[Path, AfterValidator(_valid_data_path)]
Image = Annotated[str, AfterValidator(_valid_image)]
ServiceUserName = Annotated[Id, AfterValidator(_valid_service_user)]


class Broker(_Model):
    """Mosquitto on the Pi."""

    address: Host = "0.0.0.0"
    port: Port = 8883
    """The devices' listener, TLS with the broker certificate (``sensor_bridge.tls``)."""
    plain_port: Port = 1883
    """The plain listener, for the Pi's own clients (Vector, status, dataflow, monit)."""
    plain_lan: bool = False
    """The plain listener on ``address`` rather than 127.0.0.1: only for boards with
    ``tls = false``."""
    device_address: Host | None = None
    """Where the boards reach the broker: the Pi's LAN address or host name, written into each
    board's settings.toml by ``sensor-bridge provision``. None: ``address``, when that is one
    address rather than every interface."""
    persistence: bool = True
    max_queued_messages: int = Field(10000, ge=100)
    persistent_client_expiration: Duration = "14d"

    @model_validator(mode="after")
    def _two_ports(self) -> Broker:
        if self.plain_port == self.port:
            raise ValueError(
                f"plain_port and port are both {self.port}: the plain and the TLS listener "
                "need a port each"
            )
        return self


def _valid_store_url(value: str) -> str:
    store_urls.single_node(value)
    return value


def _valid_insert_url(value: str) -> str:
    store_urls.tenant_base(value, "insert")
    return value


def _valid_select_url(value: str) -> str:
    store_urls.tenant_base(value, "select")
    return value


class Storage(_Model):
    """VictoriaMetrics: the single node at ``url`` (the Pi's own by default), or one tenant of
    a cluster (``insert_url`` and ``select_url``). ``retention``, ``data_path`` and ``image``
    are the Pi's own node's; ``latency_offset`` is also vmalert's evaluation delay, so it must
    be the store's ``-search.latencyOffset`` wherever the store runs."""

    url: Annotated[str, AfterValidator(_valid_store_url)] | None = None
    """None: ``store.urls.DEFAULT_URL`` (unless the cluster's two URLs are set)."""
    insert_url: Annotated[str, AfterValidator(_valid_insert_url)] | None = None
    select_url: Annotated[str, AfterValidator(_valid_select_url)] | None = None
    retention: Duration = "100y"
    data_path: DataPath = Path("/var/lib/sensor-pipeline/victoria-metrics")
    image: Image = f"docker.io/victoriametrics/victoria-metrics:{VICTORIA_METRICS_VERSION}"
    latency_offset: Duration = "5s"

    @model_validator(mode="after")
    def _one_store(self) -> Storage:
        if self.insert_url is None and self.select_url is None:
            return self
        if self.insert_url is None or self.select_url is None:
            raise ValueError(
                "set both insert_url and select_url (a cluster tenant), or neither (the single "
                "node at url)"
            )
        if self.url is not None:
            raise ValueError(
                "url is a single node's: with insert_url and select_url (a cluster) leave it out"
            )
        store_urls.cluster(self.insert_url, self.select_url)
        return self

    @property
    def urls(self) -> StoreUrls:
        if self.insert_url is not None and self.select_url is not None:
            return store_urls.cluster(self.insert_url, self.select_url)
        return store_urls.single_node(self.url or store_urls.DEFAULT_URL)


class Pipeline(_Model):
    """Vector: MQTT in, metrics out."""

    image: Image = f"docker.io/timberio/vector:{VECTOR_VERSION}-debian"
    client_id: Id = "sensor-pipeline-vector"
    disk_buffer_bytes: int = Field(VECTOR_MIN_DISK_BUFFER_BYTES, ge=VECTOR_MIN_DISK_BUFFER_BYTES)
    cloud_buffer_bytes: int = Field(VECTOR_MIN_DISK_BUFFER_BYTES, ge=VECTOR_MIN_DISK_BUFFER_BYTES)
    """The disk buffer in front of Grafana Cloud (when the secrets file has [grafana_cloud])."""
    # Rendering checks the real floor (render.vector.dead_letters_per_hour).
    dead_letter_max_bytes: int = Field(16 * 1024 * 1024, ge=64 * 1024)
    data_path: DataPath = Path("/var/lib/sensor-pipeline/vector")
    max_delivery_delay: Duration = "12h"
    """How long before Vector reads it a reading may have been sent (the broker queues while
    Vector is away); one sent earlier is a dead letter (``too_old``)."""


class Paging(_Model):
    """How Alertmanager turns one kind of alert into notifications.

    ``group_wait``: how long a new alert waits for related ones before the first
    notification; ``group_interval``: how often a notified group sends what changed (new or
    resolved alerts); ``repeat_interval``: how often a still-firing alert is sent again.
    """

    group_wait: Duration
    group_interval: Duration
    repeat_interval: Duration


class Alertmanager(_Model):
    """Alertmanager (Debian package), between vmalert and Grafana IRM, on 127.0.0.1 only."""

    port: Port = 9093
    # A flame out must reach the owner within seconds. vmalert's alerts arrive latency_offset
    # after they started and Alertmanager sends at once an alert older than group_wait: 1 s
    # means no wait.
    shop: Paging = Paging(group_wait="1s", group_interval="5s", repeat_interval="1h")
    system: Paging = Paging(group_wait="30s", group_interval="5m", repeat_interval="4h")
    heartbeat_interval: Duration = "1m"

    @property
    def url(self) -> str:
        """Where vmalert and ``sensor-bridge alerts`` reach it, on the Pi."""
        return f"http://127.0.0.1:{self.port}"


def _valid_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a time zone like Europe/London or UTC") from None
    return value


class Alerts(_Model):
    """vmalert: the rules, how they read, and the Pi's own limits."""

    image: Image = f"docker.io/victoriametrics/vmalert:{VICTORIA_METRICS_VERSION}"
    temperature_unit: Literal["C", "F"] = "C"
    timezone: Annotated[str, AfterValidator(_valid_timezone)] = "UTC"
    disk_free_percent: float = Field(10.0, gt=0, lt=100)
    pi_temperature_c: float = Field(80.0, gt=0, le=120)
    memory_available_percent: float = Field(10.0, gt=0, lt=100)
    dead_letters_per_hour: int = Field(10, ge=0)


def _valid_mmonit_url(value: str) -> str:
    if not re.match(r"^https?://[^/@:\s]+(:[0-9]+)?/\S*$", value):
        # Not echoed: a refused URL may hold the login put in the wrong place.
        raise ValueError(
            "is not an M/Monit collector URL like https://mmonit.example.org:8443/collector "
            "(its user and password go in the secrets file)"
        )
    return value


class Monit(_Model):
    """monit (Debian package, root): restarts what is down, and the data-flow check."""

    stale_after: Duration = "1m"
    """An online device whose newest sample is older than this has a stalled pipeline; below
    every device's ``thresholds.no_data_for``, so that monit restarts Vector before the
    pipeline-stalled alert pages anyone."""
    mmonit_url: Annotated[str, AfterValidator(_valid_mmonit_url)] | None = None


def _contract_metric(value: str) -> str:
    from sensor_protocol.fields import (
        CONTRACT_METRICS,
        HEALTH_FIELDS,
        METRIC_NAMESPACE,
        READING_FIELDS,
        full_metric_name,
    )

    names = sorted(
        [full_metric_name(f) for f in READING_FIELDS + HEALTH_FIELDS if f.metric is not None]
        + [f"{METRIC_NAMESPACE}_{name}" for name in CONTRACT_METRICS]
    )
    if value not in names:
        close = difflib.get_close_matches(value, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(names)}"
        raise ValueError(f"{value!r} is not a contract metric; {hint}")
    return value


_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _valid_labels(labels: dict[str, str]) -> dict[str, str]:
    for name in labels:
        if not _LABEL.match(name) or name in ("__name__", "studio", "device"):
            raise ValueError(
                f"{name!r} cannot be a constant label: use a-z, A-Z, 0-9 and _ (studio and "
                "device come from the device_tag and studio_tag settings)"
            )
    return labels


def _valid_influx_url(value: str) -> str:
    if not re.match(r"^https?://[^/@\s]+/?$", value):
        # Not echoed: a refused URL may hold the login put in the wrong place.
        raise ValueError(
            "is not an InfluxDB URL like http://127.0.0.1:8086 (its login goes in the secrets file)"
        )
    return value.rstrip("/")


class LegacyField(_Model):
    """One field of the legacy InfluxDB and the contract metric its history becomes."""

    measurement: str = Field(min_length=1)
    field: str = Field(min_length=1)
    metric: Annotated[str, AfterValidator(_contract_metric)]
    labels: Annotated[dict[str, str], AfterValidator(_valid_labels)] = {}
    """Constant labels besides studio and device (e.g. a fault flag's ``fault``)."""


# The layout the studio's InfluxDB has: measurement "furnace", one field per value, a
# "device" tag; vmctl's {measurement}_{field} naming gave the contract's furnace_furnace_temp.
DEFAULT_LEGACY_FIELDS = (
    LegacyField(measurement="furnace", field="furnace_temp", metric="furnace_furnace_temp"),
    LegacyField(measurement="furnace", field="flame_voltage", metric="furnace_flame_volts"),
)


class InfluxMigration(_Model):
    """``sensor-bridge migrate influx``: where the legacy InfluxDB 1.x is and how its names
    map to the contract (its user and password go in the secrets file under [influxdb])."""

    url: Annotated[str, AfterValidator(_valid_influx_url)] = "http://127.0.0.1:8086"
    database: str = Field("furnace", min_length=1)
    retention_policy: str = Field("autogen", min_length=1)
    device_tag: str = Field("device", min_length=1)
    devices: dict[str, Id] = {}
    """Legacy device tag value -> device id, for values that are not the id itself."""
    default_device: Id | None = None
    """The device of series without the device tag; None: such series are an error."""
    studio_tag: str | None = None
    """The tag holding the studio; None: every series is this site's studio."""
    chunk: Duration = "7d"
    fields: tuple[LegacyField, ...] = DEFAULT_LEGACY_FIELDS

    @field_validator("fields")
    @classmethod
    def _one_row_each(cls, fields: tuple[LegacyField, ...]) -> tuple[LegacyField, ...]:
        seen: set[tuple[str, str]] = set()
        for row in fields:
            key = (row.measurement, row.field)
            if key in seen:
                raise ValueError(f"field {row.measurement}.{row.field} is mapped twice")
            seen.add(key)
        return fields


class Migrate(_Model):
    """History from the systems this one replaces."""

    influx: InfluxMigration = InfluxMigration()


GRAFANA_CLOUD_PROMETHEUS_UID = "grafanacloud-prom"
"""The uid Grafana Cloud gives every stack's hosted Prometheus data source."""


class Dashboards(_Model):
    """The generated Grafana dashboards."""

    datasource_uid: str = Field(GRAFANA_CLOUD_PROMETHEUS_UID, min_length=1)
    """The data source the dashboards open with (their data-source variable's default)."""


class ServiceUser(_Model):
    """The unprivileged user whose rootless podman runs the containers."""

    name: ServiceUserName = "sensor"
    home: AbsolutePath | None = None

    @property
    def home_dir(self) -> Path:
        return self.home if self.home is not None else Path("/home") / self.name


class Site(_Model):
    """The whole studio."""

    studio: Id
    topic_root: Id = DEFAULT_ROOT
    secrets_file: Path = Path("secrets.toml")
    service_user: ServiceUser = ServiceUser()
    broker: Broker = Broker()
    storage: Storage = Storage()
    pipeline: Pipeline = Pipeline()
    alertmanager: Alertmanager = Alertmanager()
    alerts: Alerts = Alerts()
    monit: Monit = Monit()
    migrate: Migrate = Migrate()
    dashboards: Dashboards = Dashboards()
    devices: list[Device] = Field(min_length=1)
    _path: Path = PrivateAttr(Path("site.toml"))

    @property
    def path(self) -> Path:
        """Where the site file was read from; relative paths in it resolve there."""
        return self._path

    @model_validator(mode="after")
    def _heals_before_paging(self) -> Site:
        stale_after = durations.seconds(self.monit.stale_after)
        for device in self.devices:
            if stale_after >= durations.seconds(device.thresholds.no_data_for):
                raise ValueError(
                    f"monit.stale_after ({self.monit.stale_after}) must be shorter than "
                    f"{device.id}'s thresholds.no_data_for ({device.thresholds.no_data_for}): "
                    "monit restarts the pipeline before the stall alert pages"
                )
        return self

    @model_validator(mode="after")
    def _plain_devices_need_the_plain_lan(self) -> Site:
        for device in self.devices:
            if not device.tls and not self.broker.plain_lan:
                raise ValueError(
                    f"device {device.id} has tls = false, but the broker has no plain listener "
                    "on the LAN: set plain_lan = true under [broker] (its password then crosses "
                    "the LAN in clear), or remove tls = false"
                )
        return self

    @field_validator("devices")
    @classmethod
    def _unique_devices(cls, devices: list[Device]) -> list[Device]:
        seen: set[str] = set()
        for device in devices:
            if device.id in seen:
                raise ValueError(f"device id {device.id!r} is used twice")
            seen.add(device.id)
        return devices

    @property
    def secrets_path(self) -> Path:
        return (self.path.parent / self.secrets_file).resolve()

    def device(self, device_id: str) -> Device:
        for device in self.devices:
            if device.id == device_id:
                return device
        raise SiteError(
            f"{self.path}: no device {device_id!r}; devices are "
            + ", ".join(d.id for d in self.devices)
        )


class MqttSecrets(_Model):
    pipeline: str | None = None
    devices: dict[str, str] = {}


# The secrets' checks never echo the value: the error reaches a terminal and the deploy's log.
def _valid_irm_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^/\s]+/\S*/", value):
        raise ValueError(
            "is not an IRM integration URL: http(s)://host/.../ with the trailing slash"
        )
    return value


IrmUrl = Annotated[str, AfterValidator(_valid_irm_url)]


def _valid_remote_write_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^/\s]+/\S*", value):
        raise ValueError("is not a remote-write URL like https://host/api/prom/push")
    return value


class IrmSecrets(_Model):
    """Grafana IRM's URLs; each holds its integration's token."""

    owner_url: IrmUrl | None = None
    support_url: IrmUrl | None = None
    heartbeat_url: IrmUrl | None = None


# What monit's control file can hold unescaped: a quoted string, or a URL's user and password.
_MONIT_QUOTABLE = re.compile(r'^[^"\n\r]+$')
_URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")


def _monit_quotable(value: str) -> str:
    if not _MONIT_QUOTABLE.match(value):
        raise ValueError("must not be empty or hold a double quote or a line break")
    return value


def _url_safe(value: str) -> str:
    if not _URL_SAFE.match(value):
        raise ValueError("may hold only letters, digits and . _ ~ - (it goes into a URL)")
    return value


class MonitSecrets(_Model):
    """monit's web interface password (its user is ``admin``), and M/Monit's collector login."""

    httpd_password: Annotated[str, AfterValidator(_monit_quotable)] | None = None
    mmonit_user: Annotated[str, AfterValidator(_url_safe)] | None = None
    mmonit_password: Annotated[str, AfterValidator(_url_safe)] | None = None


def _valid_stack_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^/@\s]+/?", value):
        raise ValueError("is not a Grafana stack URL like https://studio.grafana.net")
    return value.rstrip("/")


class GrafanaCloudSecrets(_Model):
    """Grafana Cloud's hosted Prometheus, where Alloy also writes (Details page of the stack),
    and the stack's HTTP API, where ``sensor-bridge dashboards push`` puts the dashboards."""

    url: Annotated[str, AfterValidator(_valid_remote_write_url)]
    user: str
    token: str
    stack_url: Annotated[str, AfterValidator(_valid_stack_url)] | None = None
    service_account_token: str | None = None
    """A Grafana service account's token with the Editor role (dashboards and folders)."""


class WifiSecrets(_Model):
    """The studio's Wi-Fi, which ``sensor-bridge provision`` writes into each board's
    settings.toml (the firmware's settings table checks the lengths)."""

    ssid: str = Field(min_length=1)
    password: str = ""


class InfluxdbSecrets(_Model):
    """The legacy InfluxDB's login, for ``sensor-bridge migrate influx`` (none: no auth)."""

    user: str | None = None
    password: str | None = None


class Secrets(_Model):
    """Passwords and tokens, from a file outside git with mode 0600."""

    mqtt: MqttSecrets = MqttSecrets()
    wifi: WifiSecrets | None = None
    irm: IrmSecrets = IrmSecrets()
    monit: MonitSecrets = MonitSecrets()
    grafana_cloud: GrafanaCloudSecrets | None = None
    influxdb: InfluxdbSecrets = InfluxdbSecrets()
    _path: Path = PrivateAttr(Path("secrets.toml"))
    _authority: Authority | None = PrivateAttr(None)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def authority(self) -> Authority:
        """The studio's CA, kept beside this file (``sensor_bridge.tls``)."""
        if self._authority is None:
            raise SiteError(f"{self.path}: not read by load_secrets, so no CA beside it")
        return self._authority

    def device_password(self, device_id: str) -> str:
        password = self.mqtt.devices.get(device_id)
        if not password:
            raise SiteError(
                f"{self.path}: no MQTT password for device {device_id!r}: "
                f'add {device_id} = "..." under [mqtt.devices]'
            )
        return password

    def wifi_credentials(self) -> WifiSecrets:
        if self.wifi is None:
            raise SiteError(
                f'{self.path}: no Wi-Fi for the boards: add ssid = "..." and password = "..." '
                "under [wifi]"
            )
        return self.wifi

    def irm_url(self, key: Literal["owner_url", "support_url", "heartbeat_url"]) -> str:
        """One of the ``[irm]`` URLs; SiteError naming the key when it is not set."""
        value: str | None = getattr(self.irm, key)
        if not value:
            raise SiteError(f'{self.path}: no IRM URL: add {key} = "https://.../" under [irm]')
        return value

    def grafana_api(self) -> tuple[str, str]:
        """The Grafana stack's URL and service account token; SiteError naming what is missing."""
        cloud = self.grafana_cloud
        if cloud is None or not cloud.stack_url or not cloud.service_account_token:
            raise SiteError(
                f'{self.path}: no Grafana API: add stack_url = "https://STACK.grafana.net" and '
                'service_account_token = "glsa_..." under [grafana_cloud]'
            )
        return cloud.stack_url, cloud.service_account_token

    def pipeline_password(self) -> str:
        if not self.mqtt.pipeline:
            raise SiteError(
                f'{self.path}: no MQTT password for the pipeline: add pipeline = "..." under [mqtt]'
            )
        return self.mqtt.pipeline


def site_path(option: str | os.PathLike[str] | None) -> Path:
    """The site file to use: the option, else $SENSOR_SITE, else ./site.toml, else the one a
    deploy put on this Pi (``DEPLOYED_SITE_PATH``), so that a command run on the Pi needs no
    ``--site``."""
    if option:
        return Path(option)
    if os.environ.get(SITE_ENV):
        return Path(os.environ[SITE_ENV])
    if not DEFAULT_SITE_PATH.exists() and DEPLOYED_SITE_PATH.exists():
        return DEPLOYED_SITE_PATH
    return DEFAULT_SITE_PATH


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            if what == "secrets":
                _private(path, os.fstat(handle.fileno()).st_mode)
            data = tomllib.load(handle)
    except FileNotFoundError:
        hint = "copy site.example.toml and edit it" if what == "site" else "create it (mode 0600)"
        raise SiteError(f"{path}: {what} file not found: {hint}") from None
    except tomllib.TOMLDecodeError as error:
        raise SiteError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise SiteError(f"{path}: cannot read the {what} file: {error.strerror}") from None
    return data


def _private(path: Path, mode: int) -> None:
    """Refuse a secrets file other users may open: its passwords would be theirs too."""
    if mode & 0o077:
        raise SiteError(
            f"{path}: the secrets file is open to other users (mode {stat.S_IMODE(mode):04o}): "
            f"chmod 600 {path}"
        )


def _plain_problem(text: str) -> str | None:
    if "{{" in text:
        return "holds '{{', which a Go template would run: remove it"
    for char in text:
        # Cc: C0, DEL and C1 (U+0085 ends a line too); Zl, Zp: U+2028, U+2029.
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return (
                f"holds a control character (U+{ord(char):04X}), which would break the config "
                "file it goes into: keep it on one line, without control characters"
            )
    return None


def _plain(data: Any, path: Path, loc: tuple[int | str, ...] = ()) -> None:
    """Every key and string of the parsed site file is plain text (the kinds' common rule); the
    message names where, not what (a line break or an escape would break the one line)."""
    if isinstance(data, dict):
        items: list[tuple[int | str, Any]] = list(data.items())
    elif isinstance(data, list):
        items = list(enumerate(data))
    else:
        items = []
    for key, value in items:
        key_problem = _plain_problem(key) if isinstance(key, str) else None
        if key_problem is not None:
            raise SiteError(f"{path}: a key in {_location(loc) or 'the top level'} {key_problem}")
        where = (*loc, key)
        problem = _plain_problem(value) if isinstance(value, str) else None
        if problem is not None:
            raise SiteError(f"{path}: {_location(where)}: {problem}")
        _plain(value, path, where)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that owns the last key of ``loc``, to suggest its valid keys."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return None
        annotation = info.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        current = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if current is None:
            return None
    return current


def _explain(error: ValidationError, root: type[BaseModel], path: Path) -> SiteError:
    first = error.errors()[0]
    loc = tuple(first["loc"])
    where = _location(loc)
    if first["type"] == "extra_forbidden":
        owner = _model_at(root, loc)
        valid = list(owner.model_fields) if owner else []
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(valid)}"
        return SiteError(f"{path}: unknown key {where!r}; {hint}")
    if first["type"] == "missing":
        return SiteError(f"{path}: missing key {where!r}")
    message = first["msg"].removeprefix("Value error, ")
    return SiteError(f"{path}: {where or 'file'}: {message}")


def load_site(path: str | os.PathLike[str] | None = None) -> Site:
    """Read and validate the site file (default per ``site_path``)."""
    resolved = site_path(path)
    data = _read_toml(resolved, "site")
    _plain(data, resolved)
    try:
        site = Site.model_validate(data)
    except ValidationError as error:
        raise _explain(error, Site, resolved) from None
    site._path = resolved
    return site


def load_secrets(site: Site) -> Secrets:
    """Read the secrets file the site points to."""
    path = site.secrets_path
    data = _read_toml(path, "secrets")
    try:
        secrets = Secrets.model_validate(data)
    except ValidationError as error:
        raise _explain(error, Secrets, path) from None
    secrets._path = path
    secrets._authority = tls.authority(path.parent, site.studio)
    return secrets
