"""A studio CA and a broker certificate for tests, made with ``cryptography`` (EC P-256, which
CircuitPython's mbedTLS configuration accepts: ECDHE-ECDSA), and a Mosquitto with a TLS
listener beside its plain one (the plain one is for the test's own recorder)."""

from __future__ import annotations

from pathlib import Path

from sensor_bridge import tls
from sensor_bridge.checks.process import free_port, wait_listening
from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.tls import Authority

CA_FILE = "ca.pem"
"""Where the board reads the CA: the root of CIRCUITPY."""


def make_ca(studio: str = "test studio") -> Authority:
    """A new CA, as the studio's is made (``sensor_bridge.tls``)."""
    return tls.new_authority(studio)


def make_server_cert(ca: Authority, host: str, directory: Path) -> tuple[Path, Path]:
    """The broker certificate ``render`` would issue for ``host``, signed by ``ca``, and its
    key, written under ``directory`` (key mode 0600)."""
    cert_pem, key_pem = tls.broker_certificate(ca, [host])
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "broker.crt"
    key_path = directory / "broker.key"
    cert_path.write_text(cert_pem)
    key_path.touch(mode=0o600)
    key_path.write_text(key_pem)
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
        ca_path.write_bytes(ca.cert_pem)
        with self.conf_path.open("a") as conf:
            conf.write(
                f"listener {self.tls_port} 127.0.0.1\n"
                f"cafile {ca_path}\ncertfile {cert}\nkeyfile {key}\n"
            )

    def start(self) -> TlsMosquitto:
        super().start()
        wait_listening(self.tls_port)
        return self
