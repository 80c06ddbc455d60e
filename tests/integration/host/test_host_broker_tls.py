"""The broker's TLS, on the real Mosquitto with the rendered files: a device that trusts the
studio's CA and uses the broker's name logs in; a wrong CA or a wrong name is refused; the plain
listener answers on loopback only; a sniffer between a device and the broker sees no password.

The refusals are checked with Python's ssl (OpenSSL), which verifies as the boards' mbedTLS
does for a name: the chain to the one CA in ca.pem, then the host name against the certificate.
"""

from __future__ import annotations

import dataclasses
import queue
import shutil
import socket
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from sensor_bridge import tls
from sensor_bridge.local.broker import RenderedMosquitto
from sensor_bridge.local.examples import example_context
from sensor_bridge.render import RenderContext, mosquitto
from sensor_bridge.tree import write_tree
from sensor_protocol.topics import TELEMETRY, build_topic
from tests.support.relay import RecordingRelay
from tests.support.waiting import wait_until

DEVICE = "furnace-1"
PASSWORD = "change-me-furnace-1"
"""The example secrets file's password for DEVICE."""
TIMEOUT_S = 10.0


def _context(directory: Path, **broker: object) -> RenderContext:
    """The example site, its boards reaching the broker on 127.0.0.1 (the name the broker's
    certificate then holds)."""
    context = example_context(directory)
    site = context.site
    settings = site.broker.model_copy(update={"device_address": "127.0.0.1", **broker})
    return dataclasses.replace(context, site=site.model_copy(update={"broker": settings}))


def _started(
    tmp_path: Path, context: RenderContext, *, as_deployed: bool = False
) -> Iterator[RenderedMosquitto]:
    files = mosquitto.render(context)
    write_tree(tmp_path / "tree", files)
    conf = next(f for f in files if f.path == mosquitto.CONF_PATH)
    if not as_deployed:
        workdir = tmp_path / "broker"
        workdir.mkdir()
        with RenderedMosquitto(workdir, tmp_path / "tree", conf) as running:
            yield running
        return
    # As deployed, root's broker drops to the mosquitto user, who cannot cross pytest's 0700
    # base directory.
    workdir = Path(tempfile.mkdtemp(prefix="broker-"))
    try:
        workdir.chmod(0o755)
        with RenderedMosquitto(workdir, tmp_path / "tree", conf, as_deployed=True) as running:
            yield running
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return _context(tmp_path / "site")


@pytest.fixture
def broker(tmp_path: Path, context: RenderContext) -> Iterator[RenderedMosquitto]:
    yield from _started(tmp_path, context)


def _ca_file(context: RenderContext) -> Path:
    return context.site.secrets_path.parent / tls.CA_CERT_FILE


def _tls_port(broker: RenderedMosquitto, context: RenderContext) -> int:
    return broker.ports[context.site.broker.port]


def _handshake(port: int, ca_pem: bytes, server_hostname: str) -> None:
    """A TLS handshake as a board makes it: only ``ca_pem`` trusted, the name checked."""
    checker = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    checker.load_verify_locations(cadata=ca_pem.decode("ascii"))
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as raw:
        with checker.wrap_socket(raw, server_hostname=server_hostname):
            pass


def _publish_as_device(context: RenderContext, port: int, ca_file: Path | None) -> mqtt.ReasonCode:
    """Log in as DEVICE (over TLS when ``ca_file``), publish one reading at QoS 1 and wait for
    its PUBACK; the CONNACK's reason code."""
    codes: queue.Queue[mqtt.ReasonCode] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tls-probe-{DEVICE}")
    client.username_pw_set(DEVICE, PASSWORD)
    if ca_file is not None:
        client.tls_set(ca_certs=str(ca_file))
    client.on_connect = lambda c, u, flags, code, props: codes.put(code)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        code = codes.get(timeout=TIMEOUT_S)
        if not code.is_failure:
            topic = build_topic(context.site.topic_root, context.site.studio, DEVICE, TELEMETRY)
            client.publish(topic, b"{}", qos=1).wait_for_publish(timeout=TIMEOUT_S)
        return code
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_device_with_the_studio_ca_logs_in_over_tls(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    code = _publish_as_device(context, _tls_port(broker, context), _ca_file(context))
    assert not code.is_failure, code


def test_a_broker_signed_by_another_ca_is_refused(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    other = tls.new_authority(context.site.studio)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        _handshake(_tls_port(broker, context), other.cert_pem, "127.0.0.1")


def test_a_wrong_host_name_is_refused(broker: RenderedMosquitto, context: RenderContext) -> None:
    ca_pem = _ca_file(context).read_bytes()
    _handshake(_tls_port(broker, context), ca_pem, "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(_tls_port(broker, context), ca_pem, "broker.example")


def _lan_address() -> str:
    """This machine's address on its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("198.51.100.1", 9))
        address: str = probe.getsockname()[0]
    assert not address.startswith("127."), "this machine needs a non-loopback IPv4 address"
    return address


def _answers(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(TIMEOUT_S)
        return sock.connect_ex((address, port)) == 0


@pytest.mark.parametrize("plain_lan", [False, True])
def test_the_plain_listener_answers_on_the_lan_only_when_the_site_opts_in(
    tmp_path: Path, plain_lan: bool
) -> None:
    context = _context(tmp_path / "site", address="0.0.0.0", plain_lan=plain_lan)
    lan = _lan_address()
    for broker in _started(tmp_path, context, as_deployed=True):
        plain = broker.ports[context.site.broker.plain_port]
        assert _answers("127.0.0.1", plain)
        assert _answers(lan, _tls_port(broker, context))
        assert _answers(lan, plain) is plain_lan


def test_a_sniffer_sees_no_password_in_a_tls_session(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    secret = PASSWORD.encode()
    with RecordingRelay(("127.0.0.1", _tls_port(broker, context))) as sniffed:
        code = _publish_as_device(context, sniffed.port, _ca_file(context))
        assert not code.is_failure, code
        wait_until(lambda: len(sniffed.recorded) > 1000, TIMEOUT_S, "the session's bytes")
        assert secret not in sniffed.recorded
    # The same sniffer on the plain listener: it does capture a password sent in clear.
    with RecordingRelay(("127.0.0.1", broker.port)) as sniffed:
        assert not _publish_as_device(context, sniffed.port, None).is_failure
        wait_until(lambda: secret in sniffed.recorded, TIMEOUT_S, "the password in clear")
