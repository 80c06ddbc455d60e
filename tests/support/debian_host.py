"""A booted Debian 13 (trixie) host on this machine, reached over SSH: where the deploy runs for
real (issue 16).

* The root is built once per machine with mmdebstrap from the Debian mirror this machine's apt
  already uses, into a zstd tarball under ``.tools/debian-host`` named by its package set, and
  unpacked per run into a temporary directory (1-2 s).
* It boots with ``systemd-nspawn -b``: real systemd as its PID 1, in its own PID and mount
  namespaces, sharing this machine's network (its services bind this machine's ports).
  ``--register=no --keep-unit`` and the unified cgroup hierarchy because this machine's PID 1 is
  not systemd: plain ``-b`` fails there asking systemd-machined over a system bus that does not
  exist ("Failed to open system bus"). For the same reason ``machinectl`` and ``systemd-run -M``
  cannot reach it: commands run inside with ``nsenter`` into its init's namespaces.
* sshd runs inside as a transient unit on a free loopback port, with a key made per run; the
  deploy reaches it with pyinfra's ``@ssh`` connector. Not ``@chroot``: systemctl in a chroot
  prints "Running in chroot, ignoring command" and exits 0, so a unit that never started would
  pass.
* Teardown stops the container by its nspawn's PID (nspawn powers the container off on SIGTERM,
  systemd-nspawn(1)), kills what is left by PID, and deletes the root only once nothing is
  mounted under it, even when the test failed.

A capability this machine lacks (mmdebstrap, systemd-nspawn, a container that boots) fails the
test with one line saying what is missing, never a skip.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest

from sensor_bridge.checks.process import free_port, wait_listening
from sensor_bridge.local.tools import TOOLS_DIR

SUITE = "trixie"
CACHE = TOOLS_DIR / "debian-host"
HOST_PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "sudo", "docker-registry")
"""A minimal trixie that boots, takes SSH (as ``SSH_USER`` with sudo, as a Pi does), and serves
the test's container registry (Debian's ``docker-registry``: no registry but Debian's, PyPI's
and npm's is reachable here). Everything the stack needs the deploy installs itself."""
SSH_USER = "pi"
"""The login deploy/inventory.example.py gives a Pi: a user with sudo, not root."""
IMAGE_PACKAGES = ("victoria-metrics", "wget", "busybox")
"""The test images' one layer: Debian's victoria-metrics 1.112.0 (the version the site pins;
vmalert is in it), wget, which the quadlets' health commands run, and busybox, whose httpd
answers for the Vector stand-in (``tests/support/standins.py``)."""
MASKED_UNITS = ("ssh.service", "ssh.socket", "docker-registry.service")
"""Enabled by their packages on their default ports (22, 5000), which would be this machine's:
the test starts sshd and the registry itself on free ports."""
EXCLUDED_PATHS = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*")
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
BOOT_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


def lacks(what: str) -> None:
    """Fail the test: this machine cannot give the Debian host ``what``."""
    pytest.fail(f"this machine lacks {what}", pytrace=False)


def _require(command: str, package: str) -> str:
    found = shutil.which(command)
    if found is None:
        lacks(f"{command} (Debian package {package}; .ci/run installs it)")
    assert found is not None
    return found


def debian_mirror() -> str:
    """The URI of this machine's Debian main archive, as apt resolved it from its own sources
    (as scripts/tool-cache finds it): no mirror host is written here."""
    codename = _os_release().get("VERSION_CODENAME", "")
    query = [
        "apt-get",
        "indextargets",
        "--format",
        "$(REPO_URI)",
        "Identifier: Packages",
        "Label: Debian",
        f"Codename: {codename}",
        "Component: main",
    ]
    found = subprocess.run(query, capture_output=True, text=True, check=False).stdout.split()
    if not found:
        lacks(f"a Debian '{codename}' main archive in apt's sources (run apt-get update)")
    return found[0]


def _os_release() -> dict[str, str]:
    lines = Path("/etc/os-release").read_text().splitlines()
    return {k: v.strip('"') for k, _, v in (line.partition("=") for line in lines) if k}


def _cached(name: str, variant: str, packages: Sequence[str], suffix: str) -> Path:
    """A root of ``SUITE`` with ``packages`` as a tarball in the cache, built on first use.

    The name holds a hash of what went into it: another package set is another file."""
    _require("mmdebstrap", "mmdebstrap")
    recipe = json.dumps([SUITE, variant, sorted(packages), EXCLUDED_PATHS])
    key = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    tarball = CACHE / f"{name}-{SUITE}-{key}{suffix}"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    # Built beside its final name and renamed: a run stopped halfway leaves no cache entry.
    partial = tarball.with_name(tarball.name + ".partial")
    argv = [
        "mmdebstrap",
        "--quiet",
        f"--variant={variant}",
        f"--include={','.join(packages)}",
        *(f"--dpkgopt=path-exclude={path}" for path in EXCLUDED_PATHS),
        "--format=tar",
        SUITE,
        str(partial),
        debian_mirror(),
    ]
    built = subprocess.run(argv, capture_output=True, text=True, check=False)
    if built.returncode != 0:
        partial.unlink(missing_ok=True)
        lacks(f"a {SUITE} root from mmdebstrap: {built.stderr.strip().splitlines()[-1:]}")
    if suffix.endswith(".zst"):
        zstd = _require("zstd", "zstd")
        subprocess.run(
            [zstd, "-q", "-T0", "--rm", str(partial), "-o", f"{partial}.zst"], check=True
        )
        Path(f"{partial}.zst").rename(tarball)
    else:
        partial.rename(tarball)
    return tarball


def host_tarball() -> Path:
    return _cached("host", "minbase", HOST_PACKAGES, ".tar.zst")


@dataclass(frozen=True)
class Layer:
    """One gzip-compressed image layer: its blob, the blob's digest and the uncompressed
    tar's (the image config's ``diff_id``)."""

    blob: Path
    digest: str
    diff_id: str


def victoria_metrics_layer() -> Layer:
    """The layer of the VictoriaMetrics and vmalert images (a trixie ``essential`` root with
    ``IMAGE_PACKAGES``), compressed once and kept in the cache with its digests."""
    tar = _cached("image", "essential", IMAGE_PACKAGES, ".tar")
    blob, meta = tar.with_suffix(".tar.gz"), tar.with_suffix(".layer.json")
    if not meta.exists():
        diff_id = _sha256_file(tar)
        with tar.open("rb") as source, gzip.open(blob, "wb", compresslevel=1) as target:
            shutil.copyfileobj(source, target, 1 << 20)
        meta.write_text(json.dumps({"digest": _sha256_file(blob), "diff_id": diff_id}))
    found = json.loads(meta.read_text())
    return Layer(blob, found["digest"], found["diff_id"])


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def push_image(
    registry: str, repository: str, tag: str, layer: Layer, entrypoint: Sequence[str]
) -> str:
    """Push a one-layer image to ``registry`` (``host:port``) as ``repository:tag`` with the
    registry HTTP API; the manifest digest the registry returned.

    The calls are the OCI distribution spec's (github.com/opencontainers/distribution-spec,
    spec.md: "Pushing blobs", monolithic POST then PUT; "Pushing Manifests"); the config and
    manifest are the OCI image spec's (config.md, manifest.md)."""
    base = f"http://{registry}/v2/{repository}"
    architecture = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "config": {"Entrypoint": list(entrypoint)},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        }
    ).encode()
    config_digest = f"sha256:{hashlib.sha256(config).hexdigest()}"
    with layer.blob.open("rb") as blob:
        _push_blob(base, layer.digest, blob, layer.blob.stat().st_size)
    _push_blob(base, config_digest, config, len(config))
    manifest_type = "application/vnd.oci.image.manifest.v1+json"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer.digest,
                    "size": layer.blob.stat().st_size,
                }
            ],
        }
    ).encode()
    put = urllib.request.Request(
        f"{base}/manifests/{tag}",
        data=manifest,
        method="PUT",
        headers={"Content-Type": manifest_type},
    )
    with urllib.request.urlopen(put, timeout=60) as response:
        digest: str = response.headers["Docker-Content-Digest"]
    assert digest == f"sha256:{hashlib.sha256(manifest).hexdigest()}", digest
    return digest


def _push_blob(base: str, digest: str, body: bytes | BinaryIO, size: int) -> None:
    start = urllib.request.Request(f"{base}/blobs/uploads/", data=b"", method="POST")
    with urllib.request.urlopen(start, timeout=60) as response:
        location = response.headers["Location"]
    # The spec lets the Location be relative to the registry.
    location = urllib.parse.urljoin(base, location)
    separator = "&" if "?" in location else "?"
    put = urllib.request.Request(
        f"{location}{separator}digest={digest}",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
    )
    with urllib.request.urlopen(put, timeout=600):
        pass


@dataclass(frozen=True)
class Ssh:
    """How pyinfra's @ssh connector reaches the host (its inventory data)."""

    port: int
    key: Path
    known_hosts: Path
    user: str = SSH_USER

    def inventory_data(self) -> dict[str, object]:
        """As deploy/inventory.example.py has a Pi: its user, every operation through sudo."""
        return {
            "ssh_hostname": "127.0.0.1",
            "ssh_port": self.port,
            "ssh_user": self.user,
            "ssh_key": str(self.key),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes",
            "_sudo": True,
        }


class DebianHost:
    """A booted trixie root under ``workdir``; start with ``booted()``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.root = workdir / "root"
        self.console = workdir / "console.log"
        self.nspawn: subprocess.Popen[bytes] | None = None
        self.init_pid = 0

    # -- commands inside -------------------------------------------------------------------

    def run(
        self, *argv: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """``argv`` inside the host, in all its init's namespaces, as root."""
        done = subprocess.run(
            ["nsenter", "-t", str(self.init_pid), "-a", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"in the Debian host: {' '.join(argv)} exited {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()}"
            )
        return done

    def shell(self, script: str, *, check: bool = True) -> str:
        return self.run("sh", "-c", script, check=check).stdout

    def start_unit(self, name: str, *argv: str, properties: Sequence[str] = ()) -> None:
        """``argv`` as the transient system unit ``name`` (systemd-run on the host's manager)."""
        props = [f"--property={p}" for p in properties]
        self.run("systemd-run", f"--unit={name}", "--quiet", *props, *argv)

    # -- life cycle --------------------------------------------------------------------------

    def unpack(self) -> None:
        tarball = host_tarball()
        self.root.mkdir(parents=True)
        _require("zstd", "zstd")  # tar --zstd runs it
        subprocess.run(
            ["tar", "--zstd", "-xpf", str(tarball), "-C", str(self.root)],
            check=True,
        )

    def prepare(self) -> None:
        """What only this test host needs, written into its root before it boots.

        Rootless podman in an nspawn container needs three containers.conf settings
        (containers.conf(5)): ``keyring = false`` (nspawn's seccomp filter refuses the keyctl
        calls that give each container its own session keyring), ``default_sysctls = []``
        (podman writes net.ipv4.ping_group_range by default; /proc/sys is read-only in the
        container) and ``pids_limit = 0`` (no pids controller is delegated to the user under
        the unified hierarchy here); and ``cgroups = "disabled"``: crun puts a BPF device
        filter on each container's cgroup, and nspawn allows no bpf() ("crun: bpf create:
        Operation not permitted"), so the containers root's podman runs for the deploy's
        pre-swap checks get no cgroup of their own (the quadlets' units pass
        ``--cgroups=split`` themselves, podman-systemd.unit(5)). None of these belongs on a Pi:
        the deploy never writes them."""
        etc = self.root / "etc"
        for unit in MASKED_UNITS:
            (etc / "systemd" / "system" / unit).unlink(missing_ok=True)
            (etc / "systemd" / "system" / unit).symlink_to("/dev/null")
            for wants in (etc / "systemd" / "system").glob(f"*.wants/{unit}"):
                wants.unlink()
        # The certificate authorities this machine's administrator added (where its egress
        # re-signs TLS, the host's downloads from PyPI must trust the same): ca-certificates,
        # which the deploy installs, adds them to the host's bundle (update-ca-certificates(8)).
        local_cas = etc.parent / "usr" / "local" / "share" / "ca-certificates"
        local_cas.mkdir(parents=True, exist_ok=True)
        for certificate in LOCAL_CAS.glob("*.crt"):
            shutil.copyfile(certificate, local_cas / certificate.name)
        drop_in = etc / "containers" / "containers.conf.d"
        drop_in.mkdir(parents=True)
        (drop_in / "test-host.conf").write_text(
            "# The Debian test host's (tests/support/debian_host.py), never a Pi's.\n"
            "[containers]\nkeyring = false\ndefault_sysctls = []\npids_limit = 0\n"
            'cgroups = "disabled"\n'
        )

    def boot(self) -> None:
        nspawn = _require("systemd-nspawn", "systemd-container")
        env = {**os.environ, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}
        with self.console.open("wb") as console:
            self.nspawn = subprocess.Popen(
                [
                    nspawn,
                    "--register=no",
                    "--keep-unit",
                    "--boot",
                    "--console=pipe",
                    f"--directory={self.root}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while not self.init_pid:
            if self.nspawn.poll() is not None or time.monotonic() > deadline:
                lacks(f"a booting systemd-nspawn container: {self._console_tail()}")
            self.init_pid = self._init_pid()
            time.sleep(0.1)
        # The host's manager needs a moment before systemctl can talk to it.
        state = ""
        while state not in ("running", "degraded"):
            if time.monotonic() > deadline:
                lacks(f"a {SUITE} container that boots to running (it is {state!r})")
            state = self.run(
                "systemctl", "is-system-running", "--wait", check=False, timeout=BOOT_TIMEOUT_S
            ).stdout.strip()
            time.sleep(0.1)
        # Rootless podman opens /dev/net/tun from the user's namespace (pasta); nspawn makes it
        # root's only.
        self.run("chmod", "0666", "/dev/net/tun")

    def _init_pid(self) -> int:
        assert self.nspawn is not None
        children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children")
        with contextlib.suppress(OSError):
            for pid in children.read_text().split():
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
        return 0

    def _console_tail(self) -> str:
        lines = self.console.read_text(errors="replace").strip().splitlines()
        return " / ".join(lines[-3:]) or "no output"

    def start_ssh(self) -> Ssh:
        """sshd on a free loopback port, ``SSH_USER`` (sudo without a password, as on a Pi
        OS image) logging in with a key made now."""
        key = self.workdir / "id_ed25519"
        subprocess.run(
            [
                _require("ssh-keygen", "openssh-client"),
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                str(key),
            ],
            check=True,
            capture_output=True,
        )
        user = SSH_USER
        self.run("useradd", "--create-home", "--shell", "/bin/bash", user)
        sudoers = self.root / "etc" / "sudoers.d" / user
        sudoers.write_text(f"{user} ALL=(ALL:ALL) NOPASSWD: ALL\n")
        sudoers.chmod(0o440)
        ssh_dir = f"/home/{user}/.ssh"
        self.run("install", "-d", "-m", "700", "-o", user, "-g", user, ssh_dir)
        authorized = self.root / ssh_dir.lstrip("/") / "authorized_keys"
        authorized.write_text(key.with_suffix(".pub").read_text())
        self.run("chown", f"{user}:{user}", f"{ssh_dir}/authorized_keys")
        self.run("chmod", "600", f"{ssh_dir}/authorized_keys")
        port = free_port()
        self.start_unit(
            "test-host-sshd",
            "/usr/sbin/sshd",
            "-D",
            "-e",
            "-p",
            str(port),
            "-o",
            "ListenAddress=127.0.0.1",
            properties=["RuntimeDirectory=sshd"],
        )
        wait_listening(port, timeout=10)
        host_key = (self.root / "etc" / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()
        known_hosts = self.workdir / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        return Ssh(port, key, known_hosts)

    def start_registry(self) -> str:
        """Debian's docker-registry inside, on a free loopback port; ``host:port``.

        podman in the host pulls from it over plain HTTP: a registries.conf drop-in marks it
        insecure (containers-registries.conf(5)), on this test host only."""
        port = free_port()
        address = f"127.0.0.1:{port}"
        config = self.root / "etc" / "test-host" / "registry.yml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            "version: 0.1\n"
            "storage:\n  filesystem:\n    rootdirectory: /var/lib/test-host-registry\n"
            f"http:\n  addr: {address}\n"
        )
        registries = self.root / "etc" / "containers" / "registries.conf.d"
        registries.mkdir(parents=True, exist_ok=True)
        (registries / "test-host.conf").write_text(
            f'[[registry]]\nlocation = "{address}"\ninsecure = true\n'
        )
        self.start_unit(
            "test-host-registry", "/usr/bin/docker-registry", "serve", "/etc/test-host/registry.yml"
        )
        wait_listening(port, timeout=10)
        return address

    def stop(self) -> None:
        """Power the container off (SIGTERM to nspawn), kill what is left by PID, then delete
        the root once nothing is mounted under it."""
        if self.nspawn is not None and self.nspawn.poll() is None:
            self.nspawn.send_signal(signal.SIGTERM)
            try:
                self.nspawn.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                for pid in (self.init_pid, self.nspawn.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.nspawn.wait(10)
        for mount in reversed(self._mounts()):
            subprocess.run(["umount", "--lazy", mount], check=False)
        if self.root.exists() and not self._mounts():
            subprocess.run(["rm", "-rf", "--one-file-system", str(self.root)], check=False)

    def _mounts(self) -> list[str]:
        """Mount points under the root, as this machine's mount table lists them."""
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
        points = [line.split()[4] for line in mounts]
        return [p for p in points if Path(p).is_relative_to(self.root)]


@contextlib.contextmanager
def booted(workdir: Path | None = None) -> Iterator[DebianHost]:
    """A trixie host booted under ``workdir`` (a temp dir by default), torn down after."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="trixie-")))
        host = DebianHost(workdir)
        stack.callback(host.stop)
        host.unpack()
        host.prepare()
        host.boot()
        yield host
