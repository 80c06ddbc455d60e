"""``ssl``: CircuitPython's TLS (shared-bindings/ssl/*.c, shared-module/ssl/*.c, on mbedTLS
2.28 in 10.1), built on CPython's ``ssl`` through memory BIOs, so the record bytes go
through the virtual socket (its outages and timeouts) as mbedTLS's go through the
socketpool socket's ``send``/``recv_into`` (SSLSocket.c, ``_mbedtls_ssl_send``/``_recv``).

What the board does, and so this module:

* ``SSLContext.load_verify_locations(cadata=...)`` takes one PEM text (``cafile`` and
  ``capath`` raise NotImplementedError); it is parsed at ``wrap_socket``, and a text mbedTLS
  cannot read is mbedTLS's error (SSLSocket.c passes ``mbedtls_x509_crt_parse``'s code to
  ``mbedtls_raise_error``): ``_ca_parse_error`` follows library/x509_crt.c and pem.c. An
  empty text turns verification off (SSLContext.c keeps no bytes, SSLSocket.c then sets
  VERIFY_NONE); ``set_default_verify_paths`` (the default) trusts the public roots, here the host's.
* ``wrap_socket`` wants a SOCK_STREAM socket (``RuntimeError: Invalid socket for TLS``); the
  handshake runs inside ``connect``. TLS 1.2 only: mbedTLS 2.28's TLS 1.3 is off in
  CircuitPython's configuration.
* The server's name is checked against the certificate's dNSName entries, or its common
  name when it has none, never against an iPAddress entry (mbedTLS 2.28 library/x509_crt.c,
  ``x509_crt_verify_name``): a broker reached by IP needs its address as a DNS name.
* Errors: a socket errno passes through as ``OSError(errno)``; a certificate that does not
  verify (wrong CA, wrong name) is ``OSError(-9984, 'MBEDTLS_ERR_X509_CERT_VERIFY_FAILED')``,
  the peer's close without close_notify ``OSError(-29312, 'MBEDTLS_ERR_SSL_CONN_EOF')``, any
  other handshake failure ``OSError(-30592, 'MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE')`` (mbedTLS
  has finer codes; the firmware tells only -9984 apart), all as ``mbedtls_raise_error`` does
  (names from lib/mbedtls_errors). A close_notify reads as 0 bytes.
"""

import base64
import ssl as _ssl
import types
from typing import Any

from cryptography import x509

SOCK_STREAM = 1
CERT_VERIFY_FAILED = (-9984, "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED")
CONN_EOF = (-29312, "MBEDTLS_ERR_SSL_CONN_EOF")
FATAL_ALERT = (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
_RECV_CHUNK = 2048
PEM_INVALID_DATA = (-4352, "MBEDTLS_ERR_PEM_INVALID_DATA")
PEM_BAD_BASE64 = (-4396, "MBEDTLS_ERR_PEM_INVALID_DATA+MBEDTLS_ERR_BASE64_INVALID_CHARACTER")
X509_INVALID_FORMAT = (-8576, "MBEDTLS_ERR_X509_INVALID_FORMAT")
X509_UNKNOWN_FORMAT = (-10112, "MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT")
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n")


def _ca_parse_error(text: str) -> tuple[int, str] | None:
    """What ``mbedtls_x509_crt_parse`` makes of ``text`` when it is not all certificates, or
    None. x509_crt.c reads each PEM block; with none read it returns the first block's error,
    with some read the number that failed (which ``mbedtls_raise_error`` names as it can:
    1 is GENERIC_ERROR). pem.c: nothing between the markers is PEM_INVALID_DATA, a character
    outside base64 that plus BASE64_INVALID_CHARACTER; bytes that are no certificate are
    X509_INVALID_FORMAT; a text with no complete block is X509_CERT_UNKNOWN_FORMAT (the codes
    circuitpython-mcu's mbedTLS 2.28.3 raised for each)."""
    start = text.find(_PEM_BEGIN)
    if start < 0:
        # No PEM header: the bytes are read as one DER certificate.
        return X509_INVALID_FORMAT
    errors: list[tuple[int, str]] = []
    read = 0
    while start >= 0:
        end = text.find(_PEM_END, start)
        body = text[start + len(_PEM_BEGIN) : end].strip() if end >= 0 else ""
        if end < 0:
            # pem.c: no footer is "no PEM here", which ends the reading.
            break
        if not body:
            errors.append(PEM_INVALID_DATA)
        elif not set(body) <= _BASE64:
            errors.append(PEM_BAD_BASE64)
        else:
            try:
                x509.load_der_x509_certificate(base64.b64decode(body))
                read += 1
            except ValueError:
                errors.append(X509_INVALID_FORMAT)
        start = text.find(_PEM_BEGIN, end)
    if not errors:
        return None if read else X509_UNKNOWN_FORMAT
    return (len(errors), "MBEDTLS_ERR_ERROR_GENERIC_ERROR") if read else errors[0]


class SSLContext:
    def __init__(self) -> None:
        self.check_hostname = False
        """Stored, not used: the name is checked whenever ``server_hostname`` is given."""
        self._cadata: str | None = None
        self._default_roots = True

    def load_verify_locations(
        self, cafile: Any = None, capath: Any = None, cadata: Any = None
    ) -> None:
        if cafile is not None:
            raise NotImplementedError("cafile")
        if capath is not None:
            raise NotImplementedError("capath")
        if isinstance(cadata, bytes):
            cadata = cadata.decode()
        if not isinstance(cadata, str):
            raise TypeError(f"can't convert '{type(cadata).__name__}' object to str implicitly")
        self._cadata = cadata
        self._default_roots = False

    def set_default_verify_paths(self) -> None:
        self._cadata = None
        self._default_roots = True

    def load_cert_chain(self, certfile: str, keyfile: str | None = None) -> None:
        raise NotImplementedError("the virtual board has no client certificates")

    def wrap_socket(
        self, sock: Any, *, server_side: bool = False, server_hostname: str | None = None
    ) -> "SSLSocket":
        if sock.type != SOCK_STREAM:
            raise RuntimeError("Invalid socket for TLS")
        if server_side and server_hostname is not None:
            raise ValueError("Server side context cannot have hostname")
        if server_side:
            raise NotImplementedError("the virtual board has no TLS server sockets")
        return SSLSocket(sock, self._host_context(), server_hostname)

    def _host_context(self) -> _ssl.SSLContext:
        context = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
        context.maximum_version = _ssl.TLSVersion.TLSv1_2
        # The name is checked as mbedTLS does, after the chain (SSLSocket._check_name).
        context.check_hostname = False
        if self._default_roots:
            context.load_default_certs()
        elif self._cadata:
            error = _ca_parse_error(self._cadata)
            if error is not None:
                raise OSError(*error)
            context.load_verify_locations(cadata=self._cadata)
        else:
            context.verify_mode = _ssl.CERT_NONE
        return context


class SSLSocket:
    def __init__(self, sock: Any, context: _ssl.SSLContext, server_hostname: str | None) -> None:
        self._sock = sock
        self._hostname = server_hostname
        self._verify = context.verify_mode != _ssl.CERT_NONE
        self._incoming = _ssl.MemoryBIO()
        self._outgoing = _ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=None)
        self._closed = False

    def __enter__(self) -> "SSLSocket":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def settimeout(self, value: float | None) -> None:
        self._sock.settimeout(value)

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def setsockopt(self, level: int, optname: int, value: int) -> None:
        self._sock.setsockopt(level, optname, value)

    def close(self) -> None:
        """Closes the socket; whatever its close raises is swallowed (SSLSocket.c)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._sock.close()
        except Exception:
            pass

    def connect(self, address: tuple[str, int]) -> None:
        self._sock.connect(address)
        while True:
            try:
                self._tls.do_handshake()
                break
            except _ssl.SSLWantReadError:
                self._flush()
                self._fill()
            except _ssl.SSLCertVerificationError:
                self._fail(CERT_VERIFY_FAILED)
            except _ssl.SSLError:
                self._fail(FATAL_ALERT)
        self._flush()
        if self._verify and self._hostname is not None and not self._name_matches():
            self._fail(CERT_VERIFY_FAILED)

    def send(self, data: Any) -> int:
        self._check_open()
        count = self._tls.write(bytes(data))
        self._flush()
        return count

    def recv_into(self, buffer: Any, bufsize: int = 0) -> int:
        self._check_open()
        size = bufsize or len(buffer)
        if size > len(buffer):
            raise ValueError("buffer too small for requested bytes")
        while True:
            try:
                return int(self._tls.read(size, buffer))
            except _ssl.SSLWantReadError:
                self._fill()
            except _ssl.SSLZeroReturnError:
                return 0

    def _check_open(self) -> None:
        if self._closed:
            raise OSError(9, "EBADF")

    def _flush(self) -> None:
        data = self._outgoing.read()
        while data:
            data = data[self._sock.send(data) :]

    def _fill(self) -> None:
        chunk = bytearray(_RECV_CHUNK)
        count = self._sock.recv_into(chunk)
        if count == 0:
            raise OSError(*CONN_EOF)
        self._incoming.write(bytes(chunk[:count]))

    def _fail(self, error: tuple[int, str]) -> None:
        # do_handshake's cleanup marks the session closed without closing the socket, so a
        # later close() does nothing: the socket goes when it is collected (its finaliser).
        self._closed = True
        raise OSError(*error)

    def _name_matches(self) -> bool:
        cert: dict[str, Any] = dict(self._tls.getpeercert() or {})
        wanted = (self._hostname or "").lower()
        alt_names = cert.get("subjectAltName", ())
        if alt_names:
            names = [value for kind, value in alt_names if kind == "DNS"]
        else:
            names = [
                value
                for rdn in cert.get("subject", ())
                for key, value in rdn
                if key == "commonName"
            ]
        return any(_name_match(name.lower(), wanted) for name in names)


def _name_match(pattern: str, name: str) -> bool:
    """x509_crt_check_cn: equal, or ``*.`` matching exactly the first label."""
    if pattern == name:
        return True
    if pattern.startswith("*."):
        dot = name.find(".")
        return dot > 0 and name[dot:] == pattern[1:]
    return False


def build_ssl() -> types.ModuleType:
    module = types.ModuleType("ssl", "TLS on the board's sockets (virtual board).")

    def create_default_context() -> SSLContext:
        return SSLContext()

    module.__dict__.update(
        SSLContext=SSLContext, SSLSocket=SSLSocket, create_default_context=create_default_context
    )
    return module
