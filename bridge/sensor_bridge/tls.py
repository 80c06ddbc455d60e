"""The studio's certificate authority and the broker's certificate, with ``cryptography``.

The CA (its key and self-signed certificate) lives beside the secrets file: made the first time
the secrets are read, then kept. Its certificate is what ``sensor-bridge provision`` writes to
each board as ``ca.pem``; the board verifies the broker against it. The broker's certificate is
issued by ``broker_certificate``, a pure function of the CA, the names the boards use and the
previous certificate: the previous one is kept while it still fits, so rendering twice changes
nothing.

Keys are EC P-256 with ECDSA-SHA256 signatures: CircuitPython's TLS is mbedTLS 2.28, whose
configuration (lib/mbedtls_config/mbedtls_config.h) enables ECDHE-ECDSA. Boards check no
validity dates (that file leaves MBEDTLS_HAVE_TIME_DATE off: a board has no wall clock), but
Mosquitto's clients on the Pi do, so the dates are long.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sensor_bridge.errors import BridgeError

CA_KEY_FILE = "sensor-pipeline-ca.key"
CA_CERT_FILE = "sensor-pipeline-ca.pem"
CA_VALIDITY = datetime.timedelta(days=100 * 365)
"""The CA outlives the boards: re-provisioning every board is the only way to replace it."""
BROKER_VALIDITY = datetime.timedelta(days=20 * 365)
BROKER_RENEW_BEFORE = datetime.timedelta(days=365)
"""A broker certificate this close to its end is re-issued on the next render."""


@dataclass(frozen=True)
class Authority:
    """The studio's CA: its key and certificate (PEM)."""

    key_pem: bytes
    cert_pem: bytes

    @property
    def key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def new_authority(studio: str, now: datetime.datetime | None = None) -> Authority:
    """A new CA for ``studio``: a P-256 key and its self-signed certificate."""
    now = now or datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sensor-pipeline CA {studio}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + CA_VALIDITY)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM))


def authority(directory: Path, studio: str) -> Authority:
    """The CA kept in ``directory`` (beside the secrets file), made there the first time.

    The key is created 0600 and never replaced: boards trust this CA until re-provisioned."""
    key_path, cert_path = directory / CA_KEY_FILE, directory / CA_CERT_FILE
    try:
        if not key_path.exists() and not cert_path.exists():
            made = new_authority(studio)
            _write_new(key_path, made.key_pem, 0o600)
            _write_new(cert_path, made.cert_pem, 0o644)
            return made
        found = Authority(key_path.read_bytes(), cert_path.read_bytes())
    except FileNotFoundError as error:
        raise BridgeError(
            f"{error.filename}: missing beside the rest of the CA: restore it from your backup "
            "(a new CA means provisioning every board again)"
        ) from None
    except OSError as error:
        raise BridgeError(f"{error.filename}: cannot use the CA: {error.strerror}") from None
    _check_authority(found, key_path, cert_path)
    if key_path.stat().st_mode & 0o077:
        raise BridgeError(f"{key_path}: the CA key is readable by others: chmod 600 {key_path}")
    return found


def _check_authority(found: Authority, key_path: Path, cert_path: Path) -> None:
    try:
        key, cert = found.key, found.cert
    except (ValueError, TypeError, AssertionError):
        raise BridgeError(
            f"{key_path}, {cert_path}: not a PEM EC key and certificate: restore them from "
            "your backup"
        ) from None
    if cert.public_key() != key.public_key():
        raise BridgeError(
            f"{cert_path}: not the certificate of {key_path}: restore the pair from your backup"
        )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Created with its final mode, never over an existing file."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def broker_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """The subjectAltName entries for the names the clients use.

    An IP address goes in twice, as an iPAddress and as a dNSName: OpenSSL (Mosquitto's
    clients, Python's ssl) matches an IP against iPAddress entries only, while mbedTLS 2.28's
    host-name check (library/x509_crt.c, x509_crt_check_san) handles dNSName entries only
    (iPAddress matching came in mbedTLS 3), so a board that connects by IP needs the dNSName.
    """
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            names.append(x509.DNSName(host))
            continue
        names += [x509.IPAddress(ip), x509.DNSName(host)]
    return names


def broker_certificate(
    ca: Authority,
    hosts: Sequence[str],
    previous_cert: str | None = None,
    previous_key: str | None = None,
    now: datetime.datetime | None = None,
) -> tuple[str, str]:
    """The broker's certificate and key (PEM) for ``hosts``: the previous pair while it is
    signed by ``ca``, names exactly ``hosts`` and is not near its end; else a new pair."""
    now = now or datetime.datetime.now(datetime.UTC)
    names = broker_names(hosts)
    if previous_cert and previous_key and _still_fits(ca, names, previous_cert, previous_key, now):
        return previous_cert, previous_key
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = ca.cert
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(min(now + BROKER_VALIDITY, issuer.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return cert_pem, _key_pem(key).decode("ascii")


def _still_fits(
    ca: Authority,
    names: list[x509.GeneralName],
    cert_pem: str,
    key_pem: str,
    now: datetime.datetime,
) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
        key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
        cert.verify_directly_issued_by(ca.cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return (
        cert.public_key() == key.public_key()
        and list(san) == names
        and cert.not_valid_after_utc - now > BROKER_RENEW_BEFORE
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
