"""A real image registry for tests: Debian's ``docker-registry`` (distribution 2.8) on a loopback
port, over TLS with the test's CA, optionally behind token authentication as Docker Hub's
registry is (distribution's docs/spec/auth/token.md), and a way to push an image into it.

The token issuer is the test's own stand-in for Docker Hub's auth.docker.io: the registry,
which checks the tokens (registry/auth/token/token.go: issuer, audience, expiry, an x5c chain
that verifies against ``rootcertbundle``, an ES256 signature), is the real one.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import ssl
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509 import load_pem_x509_certificate

from deploy.sensor_deploy import pinning
from sensor_bridge.checks.process import Service, free_port, wait_listening
from sensor_bridge.local.examples import example_site
from sensor_bridge.local.tools import require_tool
from sensor_bridge.site import load_site
from sensor_bridge.tls import Authority
from tests.support.tls import make_server_cert

SERVICE = "test-registry"
ISSUER = "test-token-issuer"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Gives a pull-and-push token for whatever scope is asked, signed by ``ca``'s key."""

    def __init__(self, ca: Authority) -> None:
        self.ca = ca
        self.requests: list[dict[str, str]] = []
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def token(self, scope: str) -> str:
        kind, name, _ = scope.split(":")
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [
                base64.b64encode(
                    load_pem_x509_certificate(self.ca.cert_pem).public_bytes(
                        serialization.Encoding.DER
                    )
                ).decode()
            ],
        }
        claims = {
            "iss": ISSUER,
            "sub": "test",
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": hashlib.sha256(f"{scope}{time.monotonic_ns()}".encode()).hexdigest(),
            "access": [{"type": kind, "name": name, "actions": ["pull", "push"]}],
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        r, s = decode_dss_signature(
            self.ca.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        )
        # JWS's ES256 signature is r and s as 32-byte big-endian integers (RFC 7518, 3.4).
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def start(self) -> TokenIssuer:
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                issuer.requests.append(query)
                body = json.dumps({"token": issuer.token(query["scope"])}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class ImageRegistry:
    """``docker-registry`` serving https://127.0.0.1:``port`` with a certificate by ``ca``."""

    def __init__(self, workdir: Path, ca: Authority, *, tokens: bool = False) -> None:
        self.workdir = workdir
        self.ca = ca
        self.port = free_port()
        self.issuer = TokenIssuer(ca) if tokens else None
        self._service: Service | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ImageRegistry:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cert, key = make_server_cert(self.ca, "127.0.0.1", self.workdir / "tls")
        ca_file = self.workdir / "tls" / "ca.pem"
        ca_file.write_bytes(self.ca.cert_pem)
        config = {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(self.workdir / "data")}},
            "http": {"addr": self.host, "tls": {"certificate": str(cert), "key": str(key)}},
        }
        if self.issuer is not None:
            self.issuer.start()
            config["auth"] = {
                "token": {
                    "realm": self.issuer.realm,
                    "service": SERVICE,
                    "issuer": ISSUER,
                    "rootcertbundle": str(ca_file),
                }
            }
        # JSON is YAML: the registry reads it as its config.yml.
        config_path = self.workdir / "config.yml"
        config_path.write_text(json.dumps(config))
        self._service = Service(
            [require_tool("docker-registry"), "serve", config_path], self.workdir / "registry.log"
        ).start()
        wait_listening(self.port)
        return self

    def stop(self) -> None:
        if self._service is not None:
            self._service.stop()
            self._service = None
        if self.issuer is not None:
            self.issuer.stop()

    def __enter__(self) -> ImageRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _request(
        self, method: str, url: str, repository: str, body: bytes = b"", content_type: str = ""
    ) -> tuple[int, dict[str, str]]:
        headers = {"Content-Type": content_type} if content_type else {}
        if self.issuer is not None:
            headers["Authorization"] = "Bearer " + self.issuer.token(
                f"repository:{repository}:pull,push"
            )
        request = urllib.request.Request(url, data=body or None, method=method, headers=headers)
        context = ssl.create_default_context(cadata=self.ca.cert_pem.decode())
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, dict(response.headers.items())

    def _push_blob(self, repository: str, blob: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        base = f"https://{self.host}/v2/{repository}"
        _, headers = self._request("POST", f"{base}/blobs/uploads/", repository, b"", "")
        location = urllib.parse.urljoin(base + "/", headers["Location"])
        separator = "&" if "?" in location else "?"
        self._request(
            "PUT",
            f"{location}{separator}digest={digest}",
            repository,
            blob,
            "application/octet-stream",
        )
        return digest

    def push_manifest(self, repository: str, tag: str, manifest: bytes, media_type: str) -> str:
        """Store ``manifest`` as ``repository:tag``; the digest the registry answers with."""
        _, headers = self._request(
            "PUT",
            f"https://{self.host}/v2/{repository}/manifests/{tag}",
            repository,
            manifest,
            media_type,
        )
        return headers["Docker-Content-Digest"]

    def push_image(self, repository: str, tag: str, content: bytes) -> str:
        """A one-layer image holding ``content`` as ``repository:tag``; its manifest's digest."""
        config = json.dumps({"architecture": "arm64", "os": "linux"}).encode()
        layer = content
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": self._push_blob(repository, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": self._push_blob(repository, layer),
                    "size": len(layer),
                }
            ],
        }
        return self.push_manifest(repository, tag, json.dumps(manifest).encode(), OCI_MANIFEST)


def example_site_on(registry: ImageRegistry, directory: Path) -> Path:
    """The example site with each of its images served by ``registry`` under the same name and
    tag (pushed there now), by tag alone, as a new site names them."""
    site_file = example_site(directory)
    text = site_file.read_text()
    for setting, reference in pinning.unpinned(load_site(site_file)).items():
        registry.push_image(reference.repository, str(reference.tag), reference.name.encode())
        text = pinning.with_setting(
            text, setting, f"{registry.host}/{reference.repository}:{reference.tag}"
        )
    site_file.write_text(text)
    return site_file
