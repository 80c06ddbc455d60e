"""The broker's rendered files: what the conf says, who may do what, and stable password hashes."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path, PurePosixPath

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from sensor_bridge import mqtt_accounts, tls
from sensor_bridge.errors import SiteError
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext, RenderedFile, mosquitto
from sensor_protocol.limits import MAX_ID_LENGTH, MAX_PAYLOAD_BYTES, PIPELINE_MAX_PACKET_BYTES
from sensor_protocol.topics import CHANNELS


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path)


def _by_path(files: list[RenderedFile]) -> dict[PurePosixPath, RenderedFile]:
    return {f.path: f for f in files}


def _directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            found.setdefault(name, []).append(value)
    return found


def test_files_paths_modes_and_checks(context: RenderContext) -> None:
    files = _by_path(mosquitto.render(context))
    assert set(files) == {
        mosquitto.CONF_PATH,
        mosquitto.CERT_PATH,
        mosquitto.KEY_PATH,
        mosquitto.PASSWD_PATH,
        mosquitto.ACL_PATH,
    }
    conf, cert, key, passwd, acl = (
        files[mosquitto.CONF_PATH],
        files[mosquitto.CERT_PATH],
        files[mosquitto.KEY_PATH],
        files[mosquitto.PASSWD_PATH],
        files[mosquitto.ACL_PATH],
    )
    assert (conf.check, conf.secret, conf.mode) == ("mosquitto", False, 0o644)
    assert (passwd.secret, passwd.mode) == (True, 0o600)
    assert (key.secret, key.mode) == (True, 0o600)
    assert not acl.secret and not cert.secret
    # Checked by the broker's start on the conf that names them.
    assert {passwd.check, acl.check, cert.check, key.check} == {None}


def test_conf_requires_login_and_keeps_sessions(context: RenderContext) -> None:
    conf = _directives(mosquitto.render_conf(context.site))
    assert conf["allow_anonymous"] == ["false"]
    assert conf["password_file"] == ["/etc/mosquitto/sensor-pipeline.passwd"]
    assert conf["acl_file"] == ["/etc/mosquitto/sensor-pipeline.acl"]
    assert conf["persistence"] == ["true"]
    assert conf["max_queued_messages"] == ["10000"]
    assert conf["max_inflight_messages"] == ["20"]
    assert conf["persistent_client_expiration"] == ["336h"]
    assert conf["max_packet_size"] == [str(PIPELINE_MAX_PACKET_BYTES)]
    # Debian's mosquitto.conf sets these; a second value would stop the broker.
    assert "persistence_location" not in conf and "log_dest" not in conf


def _listener_options(text: str) -> list[list[str]]:
    """Each listener's own directives (Mosquitto applies a listener option to the listener
    above it), in order."""
    listeners: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("listener "):
            listeners.append([])
        elif line and not line.startswith("#") and listeners:
            listeners[-1].append(line)
    return listeners


@pytest.mark.parametrize("plain_lan", [False, True])
def test_every_listener_takes_the_username_as_client_id(
    context: RenderContext, plain_lan: bool
) -> None:
    """use_username_as_clientid is a listener option (Mosquitto 2.0's src/conf.c sets it on
    ``cur_listener``): one missing after a listener would let that listener's logins take any
    session."""
    site = _with_broker(context, plain_lan=plain_lan).site
    listeners = _listener_options(mosquitto.render_conf(site))
    assert len(listeners) == 2
    assert all("use_username_as_clientid true" in options for options in listeners)


def test_largest_device_message_fits_the_packet_limit() -> None:
    topic = "/".join(["x" * MAX_ID_LENGTH] * 3 + [max(CHANNELS, key=len)])
    # PUBLISH fixed header (<= 5 bytes), topic length (2), topic, packet id (2), payload.
    assert 5 + 2 + len(topic) + 2 + MAX_PAYLOAD_BYTES <= PIPELINE_MAX_PACKET_BYTES


def _with_broker(context: RenderContext, **update: object) -> RenderContext:
    broker = context.site.broker.model_copy(update=update)
    return dataclasses.replace(context, site=context.site.model_copy(update={"broker": broker}))


def test_devices_get_tls_and_the_plain_listener_stays_on_loopback(context: RenderContext) -> None:
    conf = mosquitto.render_conf(context.site)
    # The certificate applies to the listener above it: the plain one comes first.
    assert conf.index("listener 1883 127.0.0.1") < conf.index("listener 8883 0.0.0.0")
    assert conf.index("listener 8883 0.0.0.0") < conf.index("certfile")
    directives = _directives(conf)
    assert directives["listener"] == ["1883 127.0.0.1", "8883 0.0.0.0"]
    assert directives["certfile"] == ["/etc/mosquitto/certs/sensor-pipeline.crt"]
    assert directives["keyfile"] == ["/etc/mosquitto/certs/sensor-pipeline.key"]
    assert mosquitto.address(context.site) == "127.0.0.1:1883"


def test_plain_on_the_lan_only_when_the_site_opts_in(context: RenderContext) -> None:
    site = _with_broker(context, address="10.0.0.2", plain_lan=True).site
    assert _directives(mosquitto.render_conf(site))["listener"] == [
        "1883 10.0.0.2",
        "8883 10.0.0.2",
    ]
    assert mosquitto.address(site) == "10.0.0.2:1883"


def _cert(files: list[RenderedFile]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(_by_path(files)[mosquitto.CERT_PATH].text.encode())


def test_the_certificate_names_the_boards_address_for_openssl_and_mbedtls(
    context: RenderContext,
) -> None:
    cert = _cert(mosquitto.render(context))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    # device_address 192.168.1.10: an iPAddress for OpenSSL, a dNSName for the boards' mbedTLS.
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.168.1.10")]
    assert names.get_values_for_type(x509.DNSName) == ["192.168.1.10"]
    cert.verify_directly_issued_by(context.secrets.authority.cert)
    # P-256, which CircuitPython's mbedTLS configuration offers for ECDHE-ECDSA.
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"


def test_a_host_name_is_one_dns_name(context: RenderContext) -> None:
    cert = _cert(mosquitto.render(_with_broker(context, device_address="pi.studio.lan")))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(names) == [x509.DNSName("pi.studio.lan")]


def _previous(files: list[RenderedFile]) -> dict[PurePosixPath, str]:
    return {f.path: f.text for f in files}


def test_the_certificate_is_kept_until_its_names_or_its_ca_change(context: RenderContext) -> None:
    first = _by_path(mosquitto.render(context))
    again = _by_path(
        mosquitto.render(dataclasses.replace(context, previous=_previous([*first.values()])))
    )
    for path in (mosquitto.CERT_PATH, mosquitto.KEY_PATH):
        assert again[path].text == first[path].text

    moved = _with_broker(context, device_address="192.168.1.11")
    moved = dataclasses.replace(moved, previous=_previous([*first.values()]))
    renamed = _by_path(mosquitto.render(moved))
    assert renamed[mosquitto.KEY_PATH].text != first[mosquitto.KEY_PATH].text
    names = _cert([*renamed.values()]).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert names.value.get_values_for_type(x509.DNSName) == ["192.168.1.11"]

    other_ca = context.secrets.model_copy()
    other_ca._authority = tls.new_authority("studio-1")
    reissued = mosquitto.render(RenderContext(context.site, other_ca, _previous([*first.values()])))
    assert _by_path(reissued)[mosquitto.CERT_PATH].text != first[mosquitto.CERT_PATH].text
    _cert(reissued).verify_directly_issued_by(other_ca.authority.cert)


def test_no_certificate_without_the_boards_address(context: RenderContext) -> None:
    site = _with_broker(context, device_address=None).site
    with pytest.raises(SiteError, match="set device_address") as raised:
        mosquitto.render(RenderContext(site, context.secrets))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("duration", "hours"), [("14d", "336h"), ("2w", "336h"), ("90m", "2h"), ("10s", "1h")]
)
def test_client_expiration_in_whole_hours(
    context: RenderContext, duration: str, hours: str
) -> None:
    broker = context.site.broker.model_copy(update={"persistent_client_expiration": duration})
    site = context.site.model_copy(update={"broker": broker})
    assert _directives(mosquitto.render_conf(site))["persistent_client_expiration"] == [hours]


def _acl_rules(text: str) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = {}
    user = ""
    for line in text.splitlines():
        if line.startswith("user "):
            user = line.removeprefix("user ")
            rules[user] = []
        elif line.startswith("topic "):
            assert user, "a rule before any user would apply to everybody"
            rules[user].append(line.removeprefix("topic "))
    return rules


def test_acl_devices_write_their_four_channels_consumers_read_what_they_need(
    context: RenderContext,
) -> None:
    def channels(device: str) -> list[str]:
        return [f"furnace/studio-1/{device}/{c}" for c in ("telemetry", "backfill", "health")] + [
            f"furnace/studio-1/{device}/status"
        ]

    every_channel = [f"read {t}" for t in channels("furnace-1") + channels("glory-hole")]
    statuses = ["read furnace/studio-1/furnace-1/status", "read furnace/studio-1/glory-hole/status"]
    assert _acl_rules(mosquitto.render_acl(context.site)) == {
        "furnace-1": [f"write {t}" for t in channels("furnace-1")],
        "glory-hole": [f"write {t}" for t in channels("glory-hole")],
        "sensor-pipeline-vector": every_channel,
        "sensor-pipeline-vector-sys": ["read $SYS/broker/#"],
        "sensor-bridge-status": [
            *statuses,
            "read $SYS/broker/version",
            "read $SYS/broker/clients/connected",
        ],
        "sensor-bridge-dataflow": statuses,
        "sensor-bridge-demo": every_channel,
        "sensor-bridge-observer": every_channel,
    }


def _passwd(context: RenderContext) -> dict[str, str]:
    text = _by_path(mosquitto.render(context))[mosquitto.PASSWD_PATH].text
    return dict(line.split(":", 1) for line in text.splitlines())


def test_passwords_hash_and_verify(context: RenderContext) -> None:
    hashes = _passwd(context)
    consumers = [c.user for c in mqtt_accounts.consumers(context.site)]
    assert list(hashes) == ["furnace-1", "glory-hole", *consumers]
    assert mosquitto.verify_password("change-me-furnace-1", hashes["furnace-1"])
    for user in consumers:
        derived = mqtt_accounts.password(context.secrets, user)
        assert mosquitto.verify_password(derived, hashes[user])
        assert not mosquitto.verify_password("change-me-pipeline", hashes[user])
    assert not mosquitto.verify_password("change-me-furnace-1", hashes["glory-hole"])
    assert all(h.startswith(f"$7${mosquitto.HASH_ITERATIONS}$") for h in hashes.values())


def test_new_hash_gets_a_new_salt(context: RenderContext) -> None:
    assert _passwd(context)["sensor-bridge-status"] != _passwd(context)["sensor-bridge-status"]


def test_unchanged_password_keeps_its_hash(context: RenderContext) -> None:
    first = _by_path(mosquitto.render(context))[mosquitto.PASSWD_PATH].text
    again = RenderContext(context.site, context.secrets, {mosquitto.PASSWD_PATH: first})
    assert _by_path(mosquitto.render(again))[mosquitto.PASSWD_PATH].text == first


def test_changed_password_gets_a_new_hash_alone(context: RenderContext) -> None:
    first = _passwd(context)
    previous = "".join(f"{user}:{hashed}\n" for user, hashed in first.items())
    mqtt = context.secrets.mqtt.model_copy(
        update={"devices": {**context.secrets.mqtt.devices, "glory-hole": "new-password"}}
    )
    secrets = context.secrets.model_copy(update={"mqtt": mqtt})
    again = _passwd(RenderContext(context.site, secrets, {mosquitto.PASSWD_PATH: previous}))
    assert again["furnace-1"] == first["furnace-1"]
    assert again["sensor-pipeline-vector"] == first["sensor-pipeline-vector"]
    assert again["glory-hole"] != first["glory-hole"]
    assert mosquitto.verify_password("new-password", again["glory-hole"])


@pytest.mark.parametrize(
    "hashed",
    ["", "$6$abc$def", "$7$x$AAAA$AAAA", "$7$101$not base64!$AAAA", "$7$101$AAAA"],
)
def test_malformed_previous_hash_never_verifies(hashed: str) -> None:
    assert not mosquitto.verify_password("secret", hashed)


@pytest.mark.parametrize(
    ("user", "what"),
    [
        ("sensor-pipeline-vector", "Vector's device source"),
        ("sensor-pipeline-vector-sys", "Vector's \\$SYS source"),
        ("sensor-bridge-status", "sensor-bridge status"),
    ],
)
def test_device_named_like_a_consumer_is_refused(
    context: RenderContext, user: str, what: str
) -> None:
    device = context.site.devices[0].model_copy(update={"id": user})
    site = context.site.model_copy(update={"devices": [device]})
    with pytest.raises(SiteError, match=f"device id '{user}' is the MQTT user of {what}"):
        mosquitto.render(RenderContext(site, context.secrets))


def test_conf_states_the_sys_interval(context: RenderContext) -> None:
    """The broker's statistics (Vector exports them for Alloy) are published this often."""
    conf = _directives(mosquitto.render_conf(context.site))
    assert conf["sys_interval"] == [str(mosquitto.SYS_INTERVAL_S)] == ["10"]
