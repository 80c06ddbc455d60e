"""The virtual board's ``ssl`` (CircuitPython's, emulated on CPython's through the virtual
sockets): what a board's mbedTLS 2.28 accepts and what it raises, against a loopback TLS echo
server with certificates made by ``cryptography``."""

import ipaddress
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.families import ESPRESSIF
from sensor_bridge.virtual.network import NetEnvironment
from sensor_bridge.virtual.sockets import build_socketpool
from sensor_bridge.virtual.sslmod import build_ssl
from sensor_bridge.virtual.wifi import Radio
from tests.support.tls import Authority, make_ca, make_server_cert


class TlsEchoServer:
    """Echoes each TLS connection's bytes back, on a loopback port, in a thread."""

    def __init__(self, cert: Path, key: Path) -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert, key)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        try:
            with self._context.wrap_socket(conn, server_side=True) as tls:
                while data := tls.recv(1024):
                    tls.sendall(data)
        except (OSError, ssl.SSLError):
            conn.close()

    def close(self) -> None:
        self._listener.close()


def _cert_with(ca: Authority, directory: Path, common_name: str, *alt: x509.GeneralName) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(x509.load_pem_x509_certificate(ca.cert_pem).not_valid_before_utc)
        .not_valid_after(x509.load_pem_x509_certificate(ca.cert_pem).not_valid_after_utc)
    )
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(alt)), critical=False)
    directory.mkdir()
    (directory / "broker.crt").write_bytes(
        builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    )
    (directory / "broker.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return directory


class Board:
    def __init__(self) -> None:
        clock = VirtualClock(speed=20.0)
        env = NetEnvironment(lambda: 1_767_225_600.0 + clock.physical())
        radio = Radio(env, clock, random.Random(1), ESPRESSIF)
        radio.connect("studio", "furnace-pass")
        self.pool: Any = build_socketpool(env, clock, ESPRESSIF).SocketPool(radio)
        self.ssl: Any = build_ssl()

    def wrapped(self, cadata: str, hostname: str) -> Any:
        context = self.ssl.create_default_context()
        context.load_verify_locations(cadata=cadata)
        sock = context.wrap_socket(self.pool.socket(), server_hostname=hostname)
        sock.settimeout(2)
        return sock


@pytest.fixture
def ca() -> Authority:
    return make_ca()


@pytest.fixture
def server(tmp_path: Path, ca: Authority) -> Iterator[TlsEchoServer]:
    cert, key = make_server_cert(ca, "127.0.0.1", tmp_path / "tls")
    echo = TlsEchoServer(cert, key)
    yield echo
    echo.close()


def test_bytes_go_through_a_verified_session(server: TlsEchoServer, ca: Authority) -> None:
    sock = Board().wrapped(ca.cert_pem.decode(), "127.0.0.1")
    sock.connect(("127.0.0.1", server.port))

    assert sock.send(b"\x10hello") == 6
    buffer = bytearray(16)
    assert sock.recv_into(buffer) == 6
    assert bytes(buffer[:6]) == b"\x10hello"
    sock.close()


@pytest.mark.parametrize("hostname", ["10.0.0.9", "broker.example"])
def test_another_name_or_ca_is_mbedtls_verify_failed(
    server: TlsEchoServer, ca: Authority, hostname: str
) -> None:
    for cadata, name in (
        (ca.cert_pem.decode(), hostname),
        (make_ca("other").cert_pem.decode(), "127.0.0.1"),
    ):
        sock = Board().wrapped(cadata, name)
        with pytest.raises(OSError) as caught:
            sock.connect(("127.0.0.1", server.port))
        assert caught.value.args == (-9984, "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED")


@pytest.mark.parametrize(
    ("common_name", "alt", "accepted"),
    [
        # mbedTLS 2.28 (library/x509_crt.c, x509_crt_verify_name) checks dNSName entries, and
        # the common name only when there are none; an iPAddress entry never matches.
        ("broker", (x509.IPAddress(ipaddress.ip_address("127.0.0.1")),), False),
        ("broker", (x509.DNSName("127.0.0.1"),), True),
        ("127.0.0.1", (), True),
        ("127.0.0.1", (x509.DNSName("broker.example"),), False),
        ("broker", (x509.DNSName("*.studio.lan"),), False),
    ],
)
def test_names_are_matched_as_mbedtls_2_28_does(
    tmp_path: Path, ca: Authority, common_name: str, alt: tuple[Any, ...], accepted: bool
) -> None:
    directory = _cert_with(ca, tmp_path / "cert", common_name, *alt)
    echo = TlsEchoServer(directory / "broker.crt", directory / "broker.key")
    try:
        sock = Board().wrapped(ca.cert_pem.decode(), "127.0.0.1")
        if accepted:
            sock.connect(("127.0.0.1", echo.port))
        else:
            with pytest.raises(OSError) as caught:
                sock.connect(("127.0.0.1", echo.port))
            assert caught.value.errno == -9984
    finally:
        echo.close()


def test_what_circuitpython_refuses() -> None:
    board = Board()
    context = board.ssl.create_default_context()
    with pytest.raises(NotImplementedError, match="cafile"):
        context.load_verify_locations(cafile="ca.pem")
    with pytest.raises(RuntimeError, match="Invalid socket for TLS"):
        context.wrap_socket(board.pool.socket(board.pool.AF_INET, board.pool.SOCK_DGRAM))
