"""Mosquitto: the broker's conf.d file, password file and ACL.

Debian's ``/etc/mosquitto/mosquitto.conf`` includes ``conf.d`` and already sets ``persistence
true``, ``persistence_location /var/lib/mosquitto/`` and the log file; a string option set twice
is an error in Mosquitto, so the conf.d file repeats none of those strings.

Users: each device's MQTT username is its id; each host consumer has its own account
(``sensor_bridge.mqtt_accounts``), whose password is derived from the secrets file. Every
listener replaces a client's id by its username (``use_username_as_clientid``: a listener
option, set after each ``listener`` line whatever ``per_listener_settings`` says, Mosquitto
2.0's src/conf.c), so an account can hold only its own session. Passwords are hashed here as
``mosquitto_passwd`` would (PBKDF2-SHA512, ``$7$``), but a password that still verifies against
the previous file's hash keeps that hash: re-rendering changes nothing, where ``mosquitto_passwd
-b`` re-salts every time.

Listeners: the devices' on ``broker.address`` is TLS, with a certificate the studio's CA signs
for the name the boards use (``device_host``); the plain one is on 127.0.0.1 for the Pi's own
clients, unless the site opts into a plain listener on the LAN (``broker.plain_lan``) for
boards that cannot afford TLS. The certificate and its key are rendered like the password file:
the previous pair is kept while it still fits (``tls.broker_certificate``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import PurePosixPath

from sensor_bridge import mqtt_accounts, tls
from sensor_bridge.alerting import durations
from sensor_bridge.errors import SiteError
from sensor_bridge.registry import MOSQUITTO, RELOAD, RESTART
from sensor_bridge.render import RenderContext, RenderedFile
from sensor_bridge.site import Site
from sensor_protocol.limits import PIPELINE_MAX_PACKET_BYTES

NAME = MOSQUITTO.name
CONF_PATH = PurePosixPath("etc/mosquitto/conf.d/sensor-pipeline.conf")
PASSWD_PATH = PurePosixPath("etc/mosquitto/sensor-pipeline.passwd")
ACL_PATH = PurePosixPath("etc/mosquitto/sensor-pipeline.acl")
# Debian's mosquitto package makes /etc/mosquitto/certs for these.
CERT_PATH = PurePosixPath("etc/mosquitto/certs/sensor-pipeline.crt")
KEY_PATH = PurePosixPath("etc/mosquitto/certs/sensor-pipeline.key")
LOOPBACK = "127.0.0.1"
_EVERY_INTERFACE = ("0.0.0.0", "::")
_NOT_A_DEVICE_ADDRESS = ("", *_EVERY_INTERFACE, "localhost", "::1")

CLIENT_ID_IS_USERNAME = "use_username_as_clientid true"
"""After every ``listener`` line: a login cannot take over another account's session."""

HASH_ITERATIONS = 10_000
"""PBKDF2 rounds for a new hash: a device connects rarely, so each login may cost a few ms."""
_SALT_BYTES = 12
"""What mosquitto_passwd uses."""

MAX_INFLIGHT_MESSAGES = 20
"""Mosquitto's default, stated: QoS 1 messages on their way to one client at a time."""
AUTOSAVE_INTERVAL_S = 60
"""How often the store (the pipeline's session and its queued messages) reaches the disk; a
crash loses at most this much of what was queued for an offline pipeline. Default 1800 s."""

SYS_INTERVAL_S = 10
"""How often the broker publishes its ``$SYS`` statistics (Mosquitto's default, stated): the
values that changed, and the uptime every time, which says the statistics are current. Vector
exports them for Alloy (``render.broker_stats``), which scrapes every 15 s."""

HEADER = "# Rendered by sensor-bridge from the site file; edits here are overwritten."


def render(context: RenderContext) -> list[RenderedFile]:
    site = context.site
    users = _users(context)
    previous = _hashes(context.previous.get(PASSWD_PATH, ""))
    cert, key = tls.broker_certificate(
        context.secrets.authority,
        [device_host(site)],
        context.previous.get(CERT_PATH),
        context.previous.get(KEY_PATH),
    )
    return [
        RenderedFile(CONF_PATH, render_conf(site), check=NAME, service=NAME),
        RenderedFile(CERT_PATH, cert, service=NAME),
        RenderedFile(KEY_PATH, key, mode=0o600, secret=True, service=NAME),
        RenderedFile(
            PASSWD_PATH,
            "".join(
                f"{user}:{_hash_for(password, previous.get(user))}\n" for user, password in users
            ),
            mode=0o600,
            secret=True,
            service=NAME,
        ),
        RenderedFile(ACL_PATH, render_acl(site), service=NAME),
    ]


def device_host(site: Site) -> str:
    """The address or name the boards use to reach the broker: the one its certificate names."""
    if site.broker.device_address:
        return site.broker.device_address
    address = site.broker.address
    if address in _NOT_A_DEVICE_ADDRESS or address.startswith("127."):
        raise SiteError(
            f"{site.path}: the boards cannot reach the broker at {address!r}: set "
            'device_address = "<the Pi\'s LAN address>" under [broker]'
        )
    return address


def plain_address(site: Site) -> str:
    """Where the plain listener listens: loopback, unless the site opts into the LAN."""
    return site.broker.address if site.broker.plain_lan else LOOPBACK


def broker_host(site: Site) -> str:
    """Where a client on the Pi (Vector, on the host network; the probes) reaches the broker's
    plain listener."""
    listen = plain_address(site)
    return LOOPBACK if listen in _EVERY_INTERFACE else listen


def address(site: Site) -> str:
    return f"{broker_host(site)}:{site.broker.plain_port}"


def on_change(path: PurePosixPath) -> str:
    """Listeners and their certificates are not reloaded; SIGHUP re-reads the password file
    and the ACL."""
    return RESTART if path in (CONF_PATH, CERT_PATH, KEY_PATH) else RELOAD


def render_conf(site: Site) -> str:
    broker = site.broker
    plain = (
        "# Plain MQTT on the LAN too, for the boards the site lets skip TLS (their passwords\n"
        "# cross the LAN in clear), and for the Pi's own clients."
        if broker.plain_lan
        else "# Plain MQTT for the Pi's own clients (Vector, status, monit) only: loopback."
    )
    lines = [
        HEADER,
        "",
        plain,
        f"listener {broker.plain_port} {plain_address(site)}",
        CLIENT_ID_IS_USERNAME,
        "",
        "# Devices connect over TLS; they verify this certificate against the studio's CA.",
        f"listener {broker.port} {broker.address}",
        CLIENT_ID_IS_USERNAME,
        f"certfile /{CERT_PATH}",
        f"keyfile /{KEY_PATH}",
        "",
        "# Every client logs in; what each user may publish or read is in the ACL. Each listener",
        "# takes the username as the client id: a login resumes or replaces only its own session.",
        "allow_anonymous false",
        f"password_file /{PASSWD_PATH}",
        f"acl_file /{ACL_PATH}",
        "",
        "# The pipeline subscribes once, with a persistent session, and never re-subscribes: the",
        "# store keeps that session and its queued QoS 1 messages across a broker restart.",
        f"persistence {'true' if broker.persistence else 'false'}",
        f"autosave_interval {AUTOSAVE_INTERVAL_S}",
        "",
        "# While the pipeline is away its messages queue here, up to this many.",
        f"max_queued_messages {broker.max_queued_messages}",
        f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}",
        "# Sessions abandoned by a client that never returns are dropped after this long.",
        f"persistent_client_expiration {_mosquitto_duration(broker.persistent_client_expiration)}",
        "",
        "# Refuse what the pipeline's MQTT source would silently drop (its packet limit).",
        f"max_packet_size {PIPELINE_MAX_PACKET_BYTES}",
        "",
        "# The broker's statistics on $SYS/broker/... (what changed, and the uptime), this often.",
        f"sys_interval {SYS_INTERVAL_S}",
    ]
    return "\n".join(lines) + "\n"


def render_acl(site: Site) -> str:
    sections = [HEADER]
    for device in site.devices:
        # Its channels exactly: a wildcard would let it retain any number of topics.
        writes = mqtt_accounts.device_topics(site, device.id)
        sections.append(
            "\n".join(
                [
                    f"# {device.id}: publishes on its own channels only, reads nothing.",
                    f"user {device.id}",
                    *(f"topic write {topic}" for topic in writes),
                ]
            )
        )
    for consumer in mqtt_accounts.consumers(site):
        sections.append(
            "\n".join(
                [
                    f"# {consumer.what}: reads these topics only, publishes nothing.",
                    f"user {consumer.user}",
                    *(f"topic read {topic}" for topic in consumer.reads),
                ]
            )
        )
    return "\n\n".join(sections) + "\n"


def _users(context: RenderContext) -> list[tuple[str, str]]:
    site, secrets = context.site, context.secrets
    mqtt_accounts.check_names(site)
    users = [(d.id, secrets.device_password(d.id)) for d in site.devices]
    consumers = [mqtt_accounts.login(secrets, c.user) for c in mqtt_accounts.consumers(site)]
    return [*users, *consumers]


def _hashes(passwd_text: str) -> dict[str, str]:
    entries = (line.partition(":") for line in passwd_text.splitlines())
    return {user: hashed for user, _, hashed in entries if hashed}


def _hash_for(password: str, previous: str | None) -> str:
    if previous is not None and verify_password(password, previous):
        return previous
    return hash_password(password, secrets.token_bytes(_SALT_BYTES))


def hash_password(password: str, salt: bytes, iterations: int = HASH_ITERATIONS) -> str:
    """Mosquitto 2's ``$7$<iterations>$<salt>$<PBKDF2-SHA512>`` (base64) password hash."""
    derived = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${_b64(salt)}${_b64(derived)}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash; False for any other or malformed hash."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    derived = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
    return hmac.compare_digest(derived, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _mosquitto_duration(duration: str) -> str:
    """A site duration in Mosquitto's units (h d w m y, where m is a month): whole hours."""
    return f"{max(1, round(durations.seconds(duration) / 3600))}h"
