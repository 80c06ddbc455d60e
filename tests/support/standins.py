"""Stand-ins for the two pieces of the stack the Debian 13 test host cannot get here: Vector's
image (docker.io/timberio/vector; Vector has no Debian package) and Grafana Alloy (Grafana's apt
repository). Neither is the real program, and neither checks a config: each answers what the
deploy and monit ask of its service (the health endpoint, ``--version``, the pre-swap
``validate``), so that the deploy runs to its end and every other unit is proven for real.
What they stand in for is proven elsewhere: the rendered VRL runs in vrl-python
(``checks.vector``), and the data path from the broker to the store is the test's forwarder
(``local.pipeline``), run against the deployed broker and VictoriaMetrics.

* Vector: an image under Vector's repository name whose entrypoint is a shell script on the
  VictoriaMetrics images' layer (``debian_host.IMAGE_PACKAGES``, which has busybox): it serves
  ``/health`` on Vector's API address with busybox's httpd.
* Alloy: a ``.deb`` named ``alloy`` laid out as Grafana's (github.com/grafana/alloy,
  packaging/deb/alloy.service and control/postinst: the ``alloy`` user, ``/var/lib/alloy``,
  ``Type=notify``, ``EnvironmentFile=/etc/default/alloy``, ``alloy run $CUSTOM_ARGS ...``),
  whose ``/usr/bin/alloy`` is a Python script answering ``/-/ready`` and ``/metrics`` on
  ``--server.http.listen-addr`` and, from the rendered config.alloy, doing for the ``up``
  series what the local stack's prober (``local.prober``) does in Alloy's place: it asks each
  target Alloy scrapes or probes and writes ``up{job}`` to the store, so the "service down"
  rules and ``status`` see the real services. It comes from a signed apt repository the
  test serves on loopback, which the deploy takes as Grafana's mirror (host data
  ``apt_mirrors``) and whose key it pins by fingerprint as it pins Grafana's.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sensor_bridge.local.tools import require_tool
from sensor_bridge.registry import GRAFANA
from sensor_bridge.render.vector import API_ADDRESS

VECTOR_SCRIPT = f"""\
case "$1" in
  --version) echo "vector stand-in (tests/support/standins.py: not Vector)" ;;
  validate|test) echo "Vector stand-in: '$1' checks nothing here" ;;
  *) mkdir -p /tmp/standin && echo '{{"ok":true}}' > /tmp/standin/health &&
     exec busybox httpd -f -p {API_ADDRESS} -h /tmp/standin ;;
esac
"""
VECTOR_ENTRYPOINT = ("/bin/sh", "-c", VECTOR_SCRIPT, "vector")
"""podman appends the quadlet's arguments (``--config ...``) or the checker's (``validate``):
they become the script's ``$1``..."""

ALLOY_VERSION = "0.0~standin"
ALLOY_SCRIPT = """\
#!/usr/bin/python3
\"\"\"Stand-in for Grafana Alloy (sensor-pipeline's tests/support/standins.py): not Alloy.

``run`` reads the rendered config.alloy as Alloy would and does one part of its job: every
15 s, ``up{job, studio}`` for each target of the ``services`` scrape (an HTTP GET of its
/metrics) and each blackbox target (a TCP connect, or an HTTP GET), written to the store at
the remote-write endpoint's host through VictoriaMetrics' JSON-lines import. It serves
/-/ready and /metrics on --server.http.listen-addr.\"\"\"
import http.server
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.request

INTERVAL_S = 15


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def connects(address):
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            return True
    except OSError:
        return False


def checks(config):
    found = {}
    for address, job in re.findall(r'"__address__" = "([^"]+)", "job" = "([^"]+)"', config):
        found[job] = lambda a=address: answers(f"http://{a}/metrics")
    for name, address, module in re.findall(
        r'name = "([^"]+)"\\s+address = "([^"]+)"\\s+module = "([^"]+)"', config
    ):
        probe = connects if module == "tcp_connect" else answers
        found[name] = lambda a=address, p=probe: p(a)
    return found


def probe_forever(config):
    studio = re.search(r'"studio" = "([^"]+)"', config).group(1)
    write = re.search(r'url = "([^"]+/api/v1/write)"', config).group(1)
    url = write.replace("/api/v1/write", "/api/v1/import")
    jobs = checks(config)
    while True:
        now_ms = int(time.time() * 1000)
        lines = [
            json.dumps({"metric": {"__name__": "up", "job": job, "studio": studio},
                        "values": [1.0 if check() else 0.0], "timestamps": [now_ms]})
            for job, check in jobs.items()
        ]
        body = "\\n".join(lines).encode()
        try:
            urllib.request.urlopen(urllib.request.Request(url, body), timeout=5).close()
        except OSError:
            pass
        time.sleep(INTERVAL_S)


args = sys.argv[1:]
if args[:1] in (["--version"], ["-v"]):
    print("alloy, version stand-in (tests/support/standins.py: not Grafana Alloy)")
elif args[:1] in (["validate"], ["fmt"]):
    print(f"Alloy stand-in: {args[0]} checks nothing here")
elif args[:1] == ["run"]:
    with open(args[-1]) as file:
        config = file.read()
    threading.Thread(target=probe_forever, args=(config,), daemon=True).start()
    flag = "--server.http.listen-addr="
    listen = next(a[len(flag):] for a in args if a.startswith(flag))
    host, _, port = listen.rpartition(":")
    ANSWERS = {"/-/ready": b"Alloy is ready.\\n", "/metrics": b"# Alloy stand-in\\n"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ANSWERS.get(self.path)
            self.send_response(404 if body is None else 200)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if os.environ.get("NOTIFY_SOCKET"):
        address = os.environ["NOTIFY_SOCKET"]
        address = "\\0" + address[1:] if address.startswith("@") else address
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.sendto(b"READY=1", address)
    server.serve_forever()
else:
    sys.exit(f"Alloy stand-in: {args[:1]} is not a command it knows")
"""
ALLOY_PROGRAM = "usr/lib/alloy-standin/alloy.py"
ALLOY_COMMAND = f"""\
#!/bin/bash
# The command line starts "/usr/bin/alloy <command>", as the real binary's does: monit finds
# Alloy's process by it (registry.ALLOY).
exec -a "/usr/bin/alloy $1" /usr/bin/python3 /{ALLOY_PROGRAM} "$@"
"""
ALLOY_UNIT = """\
[Unit]
Description=Grafana Alloy stand-in (sensor-pipeline tests/support/standins.py)
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
Restart=always
User=alloy
EnvironmentFile=/etc/default/alloy
WorkingDirectory=/var/lib/alloy
ExecStart=/usr/bin/alloy run $CUSTOM_ARGS --storage.path=/var/lib/alloy/data $CONFIG_FILE
ExecReload=/usr/bin/env kill -HUP $MAINPID
TimeoutStopSec=20s

[Install]
WantedBy=multi-user.target
"""
ALLOY_DEFAULTS = """\
CONFIG_FILE="/etc/alloy/config.alloy"
CUSTOM_ARGS=""
RESTART_ON_UPGRADE=true
"""
ALLOY_POSTINST = """\
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  getent group alloy >/dev/null || groupadd -r alloy
  getent passwd alloy >/dev/null ||
    useradd -m -r -g alloy -d /var/lib/alloy -s /sbin/nologin -c "alloy user" alloy
  install -d -o alloy -g alloy -m 770 /var/lib/alloy /var/lib/alloy/data
  chown root:alloy /etc/alloy
  chmod 770 /etc/alloy
fi
"""
SUITE, COMPONENT = "stable", "main"


@dataclass(frozen=True)
class AptMirror:
    """A signed repository served on loopback, as the deploy's ``apt_mirrors`` entry names it."""

    source: str
    key_url: str
    fingerprint: str

    def host_data(self) -> dict[str, dict[str, str]]:
        return {
            GRAFANA.file: {
                "source": self.source,
                "key_url": self.key_url,
                "fingerprint": self.fingerprint,
            }
        }


def _alloy_deb(directory: Path) -> Path:
    tree = directory / "alloy-deb"
    files = {
        "usr/bin/alloy": (ALLOY_COMMAND, 0o755),
        ALLOY_PROGRAM: (ALLOY_SCRIPT, 0o755),
        "usr/lib/systemd/system/alloy.service": (ALLOY_UNIT, 0o644),
        "etc/default/alloy": (ALLOY_DEFAULTS, 0o644),
        "etc/alloy/config.alloy": ("// Alloy stand-in: the deploy renders this file.\n", 0o644),
        "DEBIAN/postinst": (ALLOY_POSTINST, 0o755),
        "DEBIAN/conffiles": ("/etc/default/alloy\n/etc/alloy/config.alloy\n", 0o644),
        "DEBIAN/control": (
            f"Package: alloy\nVersion: {ALLOY_VERSION}\nArchitecture: all\n"
            "Maintainer: sensor-pipeline tests <tests@example.invalid>\nDepends: python3\n"
            "Description: stand-in for Grafana Alloy (sensor-pipeline tests only)\n",
            0o644,
        ),
    }
    for name, (text, mode) in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
    deb = directory / f"alloy_{ALLOY_VERSION}_all.deb"
    argv = ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)]
    subprocess.run(argv, check=True, capture_output=True)
    return deb


def _signing_key(home: Path) -> str:
    """A throwaway signing key in ``home``; its fingerprint."""
    gpg = require_tool("gpg")
    home.mkdir(mode=0o700)
    who = "alloy-standin@example.invalid"
    subprocess.run(
        [
            *(gpg, "--homedir", str(home), "--batch", "--passphrase", "", "--quick-gen-key"),
            *(f"Alloy stand-in <{who}>", "ed25519", "sign", "never"),
        ],
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        [gpg, "--homedir", str(home), "--with-colons", "--list-keys", who],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def _repository(directory: Path, deb: Path, home: Path, architecture: str) -> None:
    """A Debian repository of ``deb`` (the layout of the Debian repository format: Release
    with the SHA256 of each index, InRelease its clearsigned copy)."""
    pool = directory / "pool" / deb.name
    pool.parent.mkdir(parents=True)
    pool.write_bytes(deb.read_bytes())
    control = subprocess.run(
        ["dpkg-deb", "-f", str(pool)], check=True, capture_output=True, text=True
    ).stdout.rstrip("\n")
    body = pool.read_bytes()
    stanza = (
        f"{control}\nFilename: pool/{deb.name}\nSize: {len(body)}\n"
        f"SHA256: {hashlib.sha256(body).hexdigest()}\n"
    )
    index = f"{COMPONENT}/binary-{architecture}/Packages"
    dists = directory / "dists" / SUITE
    (dists / index).parent.mkdir(parents=True)
    (dists / index).write_text(stanza)
    release = dists / "Release"
    release.write_text(
        f"Suite: {SUITE}\nCodename: {SUITE}\nComponents: {COMPONENT}\n"
        f"Architectures: {architecture}\nDate: Thu, 01 Jan 2026 00:00:00 UTC\nSHA256:\n"
        f" {hashlib.sha256(stanza.encode()).hexdigest()} {len(stanza.encode())} {index}\n"
    )
    gpg = ["gpg", "--homedir", str(home), "--batch", "--yes"]
    subprocess.run(
        [*gpg, "--clearsign", "-o", str(dists / "InRelease"), str(release)],
        check=True,
        capture_output=True,
    )
    key = subprocess.run([*gpg, "--armor", "--export"], check=True, capture_output=True).stdout
    (directory / "key.asc").write_bytes(key)


@contextmanager
def alloy_mirror(directory: Path) -> Iterator[AptMirror]:
    """The stand-in Alloy in a signed apt repository, served over HTTP on loopback."""
    architecture = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    directory.mkdir(parents=True)
    home = directory / "gnupg"
    fingerprint = _signing_key(home)
    served = directory / "repository"
    _repository(served, _alloy_deb(directory), home, architecture)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield AptMirror(f"{base} {SUITE} {COMPONENT}", f"{base}/key.asc", fingerprint)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        # gpg started an agent for the key's home: it would outlive the test.
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
