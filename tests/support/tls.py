"""A studio CA and a broker certificate for tests, made with ``cryptography`` (EC P-256, which
CircuitPython's mbedTLS configuration accepts: ECDHE-ECDSA), and a Mosquitto with a TLS
listener beside its plain one (the plain one is for the test's own recorder)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sensor_bridge.checks.process import free_port, wait_listening
from sensor_bridge.local.broker import Mosquitto

CA_FILE = "ca.pem"
"""Where the board reads the CA: the root of CIRCUITPY."""


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate in PEM and its key."""

    pem: str
    key: ec.EllipticCurvePrivateKey
    name: x509.Name


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(
        now + datetime.timedelta(days=30)
    )


def make_ca(common_name: str = "test studio CA") -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = _validity(
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    cert = builder.sign(key, hashes.SHA256())
    return Authority(cert.public_bytes(serialization.Encoding.PEM).decode(), key, name)


def make_server_cert(ca: Authority, host: str, directory: Path) -> tuple[Path, Path]:
    """A certificate for ``host`` signed by ``ca``, and its key, written under ``directory``
    (key mode 0600). An IP literal goes in as both an IP and a DNS subject alternative name:
    mbedTLS 2.28 (CircuitPython 10.1) matches the host name against dNSName entries and the
    common name only (library/x509_crt.c, x509_crt_verify_name), CPython's ssl against
    iPAddress entries for an IP literal."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(host)]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        pass
    builder = _validity(
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca.name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    cert = builder.sign(ca.key, hashes.SHA256())
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "broker.crt"
    key_path = directory / "broker.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsMosquitto(Mosquitto):
    """A test broker with a TLS listener on ``tls_port`` (certificate for ``host`` by ``ca``)
    beside its plain loopback listener on ``port``."""

    def __init__(self, workdir: Path, ca: Authority, host: str = "127.0.0.1") -> None:
        super().__init__(workdir)
        self.ca = ca
        self.tls_port = free_port()
        cert, key = make_server_cert(ca, host, workdir / "tls")
        ca_path = workdir / "tls" / CA_FILE
        ca_path.write_text(ca.pem)
        with self.conf_path.open("a") as conf:
            conf.write(
                f"listener {self.tls_port} 127.0.0.1\n"
                f"cafile {ca_path}\ncertfile {cert}\nkeyfile {key}\n"
            )

    def start(self) -> TlsMosquitto:
        super().start()
        wait_listening(self.tls_port)
        return self
