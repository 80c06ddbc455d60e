"""The deploy's own operations: each yields commands only when something is to be done, so a
second run reports no change.

The configuration steps run ``sensor-bridge deploy ...`` on the host. pyinfra runs an
operation's body once to plan (``--dry``) and again when executing, so what these read at
execution time (the plan, the pending activation) is what the host has at that moment.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shlex
from pathlib import Path
from typing import Any

from pyinfra import host, logger
from pyinfra.api import FileUploadCommand, FunctionCommand, StringCommand, operation
from pyinfra.context import state
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import File, FileContents, Link, Sha1File

from sensor_bridge.install.layout import Layout
from sensor_bridge.install.steps import PENDING
from sensor_bridge.install.swap import MANIFEST as PREVIOUS_MANIFEST
from sensor_deploy.facts import (
    DeployPlan,
    JsonFile,
    KeyFingerprints,
    PodmanImagePresent,
    in_user_runtime,
)


@operation()
def linger_enabled(user: str):
    """``loginctl enable-linger``: the user's manager (and its containers) starts at boot."""
    if host.get_fact(File, path=f"/var/lib/systemd/linger/{user}"):
        host.noop(f"{user} lingers")
        return
    yield StringCommand("loginctl", "enable-linger", user)


@operation()
def image_pulled(image: str, user: str):
    """``image`` in ``user``'s podman store (root: the copy the pre-swap checks run)."""
    if host.get_fact(PodmanImagePresent, image=image, user=user):
        host.noop(f"{image} is there")
        return
    pull = f"podman pull --quiet {shlex.quote(image)}"
    yield pull if user == "root" else in_user_runtime(user, pull)


@operation()
def tested_versions_offered(versions: dict[str, str], script: str):
    """apt offers each package of ``versions`` (name -> the shell pattern of its tested
    versions) at a tested version, checked by ``script`` (``host_setup.tested_versions_script``)
    unless every one is installed at such a version already."""
    installed = host.get_fact(DebPackages)
    if all(
        any(fnmatch.fnmatchcase(version, pattern) for version in installed.get(package, ()))
        for package, pattern in versions.items()
    ):
        host.noop("every tested package is installed at its tested version")
        return
    yield f"sh -c {shlex.quote(script)}"


@operation()
def signing_key_pinned(script: str, keyring: str, fingerprint: str):
    """``keyring`` holds the one key ``fingerprint``, put there by ``script``
    (``host_setup.pinned_key_script``)."""
    if host.get_fact(KeyFingerprints, path=keyring) == [fingerprint]:
        host.noop(f"{keyring} holds {fingerprint} alone")
        return
    yield f"sh -c {shlex.quote(script)}"


UPLOAD_DIR = ".sensor-pipeline-upload"
"""In the SSH user's home, mode 0700: where an upload (a secret, the host package) lands before
it is moved into place as root."""


def _uploaded(src: str, dest: str):
    """The commands that put ``src`` at ``dest`` on the host through ``UPLOAD_DIR``: the SSH
    user writes there (with sudo it may not write where root's files go), then the file is
    moved into place."""
    yield StringCommand("mkdir", "-p", "-m", "700", UPLOAD_DIR, _sudo=False)
    yield FileUploadCommand(src, dest, remote_temp_filename=f"{UPLOAD_DIR}/{Path(dest).name}")


@operation()
def secret_file(src: str, dest: str):
    """Upload ``src`` as ``dest`` (root, 0600) without ever printing it (``files.put`` shows
    a diff with ``--diff``). Over SSH with sudo the file passes through ``UPLOAD_DIR`` (0700,
    the SSH user's) and lands in a root-only directory, so no one else can read it on the way.
    """
    local = hashlib.sha1(Path(src).read_bytes()).hexdigest()
    remote = host.get_fact(Sha1File, path=dest)
    current = host.get_fact(File, path=dest)
    if remote == local and current and current["mode"] == 600 and current["user"] == "root":
        host.noop(f"{dest} is up to date")
        return
    host.log(f"Will update {dest} (a secret: contents not shown)")
    yield from _uploaded(src, dest)
    yield StringCommand("chown", "root:root", dest)
    yield StringCommand("chmod", "600", dest)


@operation()
def host_package_installed(wheel: str, requirements: str, venv: str, link: str):
    """The host package's wheel in its virtualenv, ``sensor-bridge`` linked on PATH.

    Its dependencies come from ``requirements`` only, each checked against its hashes (pip's
    ``--require-hashes``: a file PyPI or a mirror swapped is refused) and never built on the
    Pi. The hash of the wheel and the requirements is kept beside the venv: the same pair is
    not installed twice."""
    digest = hashlib.sha256(Path(wheel).read_bytes() + Path(requirements).read_bytes()).hexdigest()
    stamp = f"{venv}/installed-wheel.sha256"
    installed = host.get_fact(FileContents, path=stamp)
    # pyinfra's File fact is False for a symlink: the link is asked as a Link (else the host
    # package was installed again on every run, seen on a Debian 13 host).
    linked = host.get_fact(Link, path=link)
    if (
        installed
        and installed[0].strip() == digest
        and linked
        and (linked.get("link_target") == f"{venv}/bin/sensor-bridge")
    ):
        host.noop("the host package is installed")
        return
    dist = f"{venv}.dist"
    remote_wheel = f"{dist}/{Path(wheel).name}"
    remote_requirements = f"{dist}/{Path(requirements).name}"
    yield StringCommand("mkdir", "-p", dist)
    yield from _uploaded(wheel, remote_wheel)
    yield from _uploaded(requirements, remote_requirements)
    yield StringCommand("python3", "-m", "venv", venv)
    pip = [f"{venv}/bin/pip", "install", "--quiet"]
    yield StringCommand(
        *pip, "--require-hashes", "--only-binary", ":all:", "--requirement", remote_requirements
    )
    # This wheel over any same-version copy; its dependencies are the ones above.
    yield StringCommand(*pip, "--no-deps", "--force-reinstall", remote_wheel)
    yield StringCommand("ln", "-sfn", f"{venv}/bin/sensor-bridge", link)
    yield f"echo {digest} > {shlex.quote(stamp)}"


def _plan(sensor_bridge: str, site: str, root: str) -> dict[str, Any] | None:
    plan: dict[str, Any] | None = host.get_fact(
        DeployPlan, sensor_bridge=sensor_bridge, site=site, root=root
    )
    return plan


@operation()
def configuration_validated(sensor_bridge: str, site: str, root: str):
    """Render into the staging tree and validate the changed services with their real tools;
    a failure stops the deploy here, before any live file is touched."""
    plan = _plan(sensor_bridge, site, root)
    if plan is not None and not plan["changed"]:
        host.noop("the live configuration matches the site file")
        return
    yield StringCommand(sensor_bridge, "deploy", "stage", "--site", site, "--root", root)


@operation()
def configuration_swapped(sensor_bridge: str, site: str, root: str):
    """Swap the validated files into place (the replaced ones kept for rollback)."""
    plan = _plan(sensor_bridge, site, root)
    if plan is not None and not plan["changed"]:
        host.noop("nothing to swap")
        return
    yield StringCommand(sensor_bridge, "deploy", "swap", "--site", site, "--root", root)


def pending_activation(sensor_bridge: str, site: str, root: str) -> dict[str, Any]:
    """What the swap left to restart (executing), or what the plan predicts (``--dry``)."""
    pending = host.get_fact(JsonFile, path=str(Layout(Path(root)).state / PENDING))
    if pending is None and not state.is_executing:
        plan = _plan(sensor_bridge, site, root)
        if plan is None:
            # A fresh host: every unit starts.
            return {"user_daemon_reload": True, "restart": None, "reload": [], "stop": []}
        pending = plan["activation"]
    return pending or {"user_daemon_reload": False, "restart": [], "reload": [], "stop": []}


@operation()
def user_manager_reloaded(user: str, sensor_bridge: str, site: str, root: str):
    """``systemctl --user daemon-reload``: the quadlet generator reads the new units."""
    if not pending_activation(sensor_bridge, site, root)["user_daemon_reload"]:
        host.noop("no quadlet changed")
        return
    yield StringCommand("systemctl", "--user", f"--machine={user}@.host", "daemon-reload")


@operation()
def user_unit_stopped(*, unit: str, user: str, sensor_bridge: str, site: str, root: str):
    """Stop ``unit`` when a rollback removed its quadlet: before the daemon-reload, while the
    user manager still has the unit to stop."""
    if [unit, True] not in pending_activation(sensor_bridge, site, root)["stop"]:
        host.noop(f"{unit} keeps its quadlet")
        return
    yield StringCommand("systemctl", "--user", f"--machine={user}@.host", "stop", unit)


@operation()
def unit_activated(
    *, unit: str, user_unit: bool, user: str, sensor_bridge: str, site: str, root: str
):
    """Restart (or reload) ``unit`` when one of its files changed; otherwise leave it alone."""
    pending = pending_activation(sensor_bridge, site, root)
    systemctl = ["systemctl", "--user", f"--machine={user}@.host"] if user_unit else ["systemctl"]
    entry = [unit, user_unit]
    if entry in pending["stop"]:
        host.noop(f"{unit} is stopped: its quadlet was removed")
        return
    if pending["restart"] is None or entry in pending["restart"]:
        action = "restart"
    elif entry in pending["reload"]:
        action = "reload-or-restart"
    else:
        host.noop(f"{unit}: none of its files changed")
        return
    # A unit that crash-looped on the files a failed verify rolls back from has used up
    # systemd's start limit, which refuses the rollback's start ("start of the service was
    # attempted too often", seen on a Debian 13 host): the deploy's start is deliberate.
    yield StringCommand(*systemctl, "reset-failed", unit)
    yield StringCommand(*systemctl, action, unit)


@operation()
def services_verified(sensor_bridge: str, site: str, root: str, timeout_s: int):
    """After restarts: every service answers, or the deploy fails naming the ones that do not."""
    pending = pending_activation(sensor_bridge, site, root)
    if not (pending["restart"] is None or pending["restart"] or pending["reload"]):
        host.noop("nothing was restarted")
        return
    yield StringCommand(
        sensor_bridge, "deploy", "verify", "--site", site, "--timeout", str(timeout_s)
    )


@operation()
def activation_done(root: str):
    """The restarts are done: forget them (a deploy stopped before this point redoes them)."""
    path = str(Layout(Path(root)).state / PENDING)
    if host.get_fact(File, path=path):
        yield StringCommand("rm", "-f", path)
    else:
        host.noop("nothing pending")


def _fail(state: Any, host: Any, message: str) -> bool:
    host.log_styled(message, fg="red", log_func=logger.error)
    return False


@operation()
def deploy_failed(message: str):
    """Fail the deploy with ``message`` (an operation, so the steps before it have run)."""
    if not state.is_executing:
        host.noop("only when a step before it failed")
        return
    yield FunctionCommand(_fail, (message,), {})


@operation()
def previous_set_restored(sensor_bridge: str, root: str):
    """``sensor-bridge deploy rollback``: the files the last swap replaced, back in place."""
    kept = host.get_fact(JsonFile, path=str(Layout(Path(root)).state / PREVIOUS_MANIFEST))
    if not kept:
        host.noop("no previous set is kept")
        return
    yield StringCommand(sensor_bridge, "deploy", "rollback", "--root", root)
