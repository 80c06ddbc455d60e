"""The broker's accounts: one per device and one per host consumer, each bound to one client id.

Mosquitto replaces every client's id by its username (``use_username_as_clientid``, set on
each listener by ``render.mosquitto``): a login can only ever take over its own session, so a
device's password cannot kick the pipeline off the broker or wipe its persistent session, nor
kick another device. The price is that two clients on one account kick each other: each
consumer has its own account, and one account serves one client at a time.

A consumer reads exactly the topics it needs (``Consumer.reads``, which the ACL grants) and
publishes nothing. Vector's two sources keep the site's ``pipeline.client_id`` (and
``broker_stats.client_id``) as their usernames: their persistent sessions keep their ids.

Consumer passwords are derived, not stored: HMAC-SHA256 of the account name keyed with the
secrets file's ``[mqtt] pipeline``. Every process that already reads the secrets file (status,
dataflow, the demo, the tests) computes its own, render hashes each into the password file,
Vector gets its two through its secret backend, and re-rendering gives the same passwords with
no file of generated secrets to keep in step between render and those readers. One consumer's
password does not reveal another's or the key; changing ``[mqtt] pipeline`` changes them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from sensor_bridge.errors import SiteError
from sensor_bridge.render import broker_stats
from sensor_bridge.site import Secrets, Site
from sensor_protocol.topics import CHANNELS, STATUS, build_topic

STATUS_USER = "sensor-bridge-status"
DATAFLOW_USER = "sensor-bridge-dataflow"
DEMO_USER = "sensor-bridge-demo"
OBSERVER_USER = "sensor-bridge-observer"

SYS_VERSION_TOPIC = "$SYS/broker/version"
SYS_CLIENTS_TOPIC = "$SYS/broker/clients/connected"

_DERIVATION = b"sensor-pipeline mqtt consumer\x00"
"""Separates these HMACs from any other use of the key."""


@dataclass(frozen=True)
class Consumer:
    user: str
    reads: tuple[str, ...]
    """Exact topics or filters, as the ACL's ``topic read`` lines."""
    what: str


def consumers(site: Site) -> list[Consumer]:
    channels = tuple(device_topics(site))
    statuses = tuple(build_topic(site.topic_root, site.studio, d.id, STATUS) for d in site.devices)
    return [
        Consumer(vector_user(site), channels, "Vector's device source"),
        Consumer(broker_stats.client_id(site), (broker_stats.TOPIC,), "Vector's $SYS source"),
        Consumer(
            STATUS_USER,
            (*statuses, SYS_VERSION_TOPIC, SYS_CLIENTS_TOPIC),
            "sensor-bridge status",
        ),
        Consumer(DATAFLOW_USER, statuses, "sensor-bridge dataflow (monit's data-flow check)"),
        Consumer(DEMO_USER, channels, "the demo's live view"),
        Consumer(OBSERVER_USER, channels, "tests and people watching the devices' topics"),
    ]


def vector_user(site: Site) -> str:
    return site.pipeline.client_id


def device_topics(site: Site, device_id: str | None = None) -> list[str]:
    """Every channel of one device (of each device when None): what it may write, exactly."""
    ids = [d.id for d in site.devices] if device_id is None else [device_id]
    return [build_topic(site.topic_root, site.studio, i, c) for i in ids for c in CHANNELS]


def password(secrets: Secrets, user: str) -> str:
    """The consumer ``user``'s password, derived from ``[mqtt] pipeline`` (SiteError without)."""
    key = secrets.pipeline_password().encode()
    digest = hmac.new(key, _DERIVATION + user.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def login(secrets: Secrets, user: str) -> tuple[str, str]:
    return user, password(secrets, user)


def check_names(site: Site) -> None:
    """SiteError when two owners share an account: a device whose id is a consumer's username,
    or two consumers with one username (``pipeline.client_id`` names Vector's)."""
    names: dict[str, str] = {}
    for consumer in consumers(site):
        if consumer.user in names:
            raise SiteError(
                f"{site.path}: {consumer.what} and {names[consumer.user]} would share the MQTT "
                f"user {consumer.user!r}: choose another pipeline.client_id"
            )
        names[consumer.user] = consumer.what
    for device in site.devices:
        if device.id in names:
            raise SiteError(
                f"{site.path}: device id {device.id!r} is the MQTT user of {names[device.id]}: "
                "rename the device"
            )
