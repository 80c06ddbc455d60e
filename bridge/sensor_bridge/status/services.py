"""The HTTP services' probes: up, version, health. Each takes an ``Ask`` and returns a
``ServiceStatus``, and never raises for a service that is down, slow or odd; ``collect`` turns
"not running" into "not deployed here" where the service is not installed. The registry names
each service's probe (the broker's is ``status.broker``).

Versions come from the services' own build information: ``vm_app_version`` (VictoriaMetrics,
vmalert), ``alloy_build_info``, Alertmanager's ``/api/v2/status``, monit's status XML. A
build that does not say (Debian's VictoriaMetrics binaries leave it empty; Vector's API has
none) reads as no version, never a guessed one.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from sensor_bridge.registry import Health
from sensor_bridge.status.report import DOWN, UNHEALTHY, UP, ServiceStatus
from sensor_bridge.status.targets import Logins

if TYPE_CHECKING:
    from sensor_bridge.status.broker import BrokerFindings

_VM_VERSION = re.compile(r'^vm_app_version\{[^}]*short_version="([^"]*)"', re.MULTILINE)
_ALLOY_VERSION = re.compile(r'^alloy_build_info\{[^}]*version="([^"]*)"', re.MULTILINE)
_MAX_BODY = 4 * 1024 * 1024
"""VictoriaMetrics' own /metrics is ~50 KiB; anything much bigger is not what we asked for."""


@dataclass(frozen=True)
class Ask:
    """What a probe is given: which service, at which address, how long it may take; the
    logins (the broker's and monit's probes need one) and every device's status topic (the
    broker's probe reads them in the same session)."""

    name: str
    address: str
    timeout: float
    logins: Logins
    topics: Mapping[str, str]
    health: Health | None = None
    """How the registry says the service is asked whether it is healthy."""


Probe = Callable[[Ask], "ServiceStatus | BrokerFindings"]
"""A service's line of ``sensor-bridge status``; the broker's also holds the devices'
statuses."""


class NoAnswer(Exception):
    """The service did not answer; the message says how (refused, timed out)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def get(url: str, timeout: float, login: tuple[str, str] | None = None) -> Answer:
    """GET ``url``; any HTTP status is an answer, no connection is ``NoAnswer``."""
    headers = {}
    if login is not None:
        token = base64.b64encode(":".join(login).encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read(_MAX_BODY))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(_MAX_BODY))
    except urllib.error.URLError as error:
        raise NoAnswer(why_no_answer(error.reason, timeout)) from None
    except OSError as error:
        raise NoAnswer(why_no_answer(error, timeout)) from None


def why_no_answer(reason: object, timeout: float) -> str:
    """How a service did not answer, in a few words."""
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    return str(getattr(reason, "strerror", None) or reason)


def _down(name: str, address: str, why: NoAnswer) -> ServiceStatus:
    return ServiceStatus(name, address, DOWN, detail=f"{why} at {address}")


def _unhealthy(name: str, address: str, path: str, answer: Answer) -> ServiceStatus:
    said = " ".join(answer.text.split())[:120]
    return ServiceStatus(name, address, UNHEALTHY, detail=f"{path} says {answer.status} {said}")


def _health(ask: Ask) -> tuple[str, Answer, bool]:
    """GET the service's health path: the path, the answer, and whether it says healthy (2xx,
    with the registry's ``content`` in its body)."""
    health = ask.health
    assert health is not None and health.path is not None, f"{ask.name}: no health path"
    answer = get(f"http://{ask.address}{health.path}", ask.timeout)
    healthy = 200 <= answer.status < 300 and (health.content or "") in answer.text
    return health.path, answer, healthy


def _version(pattern: re.Pattern[str], metrics: Answer) -> str | None:
    match = pattern.search(metrics.text) if metrics.status == 200 else None
    if match is None:
        return None
    return match.group(1) or None


def victoriametrics(ask: Ask) -> ServiceStatus:
    """VictoriaMetrics or vmalert: ``/health`` says OK, the version from ``/metrics``."""
    name, address, timeout = ask.name, ask.address, ask.timeout
    try:
        path, health, healthy = _health(ask)
        if not healthy:
            return _unhealthy(name, address, path, health)
        version = _version(_VM_VERSION, get(f"http://{address}/metrics", timeout))
    except NoAnswer as why:
        return _down(name, address, why)
    return ServiceStatus(name, address, UP, version, "healthy")


def alertmanager(ask: Ask) -> ServiceStatus:
    """``/-/healthy``, then ``/api/v2/status`` for the version and the cluster state."""
    name, address, timeout = ask.name, ask.address, ask.timeout
    try:
        path, health, healthy = _health(ask)
        if not healthy:
            return _unhealthy(name, address, path, health)
        status = get(f"http://{address}/api/v2/status", timeout)
    except NoAnswer as why:
        return _down(name, address, why)
    try:
        body = json.loads(status.body)
        version = body["versionInfo"]["version"] or None
        cluster = body.get("cluster", {}).get("status", "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return _unhealthy(name, address, "/api/v2/status", status)
    detail = "healthy" + (f", cluster {cluster}" if cluster and cluster != "disabled" else "")
    return ServiceStatus(name, address, UP, version, detail)


def vector(ask: Ask) -> ServiceStatus:
    """Vector's API ``/health`` (``{"ok": true}``); the API reports no version."""
    name, address = ask.name, ask.address
    try:
        path, health, healthy = _health(ask)
    except NoAnswer as why:
        return _down(name, address, why)
    try:
        ok = healthy and json.loads(health.body).get("ok") is True
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        return _unhealthy(name, address, path, health)
    return ServiceStatus(name, address, UP, None, "healthy (its API reports no version)")


def alloy(ask: Ask) -> ServiceStatus:
    """Alloy's ``/-/ready``, the version from ``alloy_build_info``."""
    name, address, timeout = ask.name, ask.address, ask.timeout
    try:
        path, ready, healthy = _health(ask)
        if not healthy:
            return _unhealthy(name, address, path, ready)
        version = _version(_ALLOY_VERSION, get(f"http://{address}/metrics", timeout))
    except NoAnswer as why:
        return _down(name, address, why)
    return ServiceStatus(name, address, UP, version, "ready")


def monit(ask: Ask) -> ServiceStatus:
    """monit's web interface (``/_status?format=xml``, its only machine-readable status): its
    version, and the checks that fail."""
    name, address, timeout = ask.name, ask.address, ask.timeout
    login, missing = ask.logins.monit, ask.logins.missing
    try:
        answer = get(f"http://{address}/_status?format=xml", timeout, login)
    except NoAnswer as why:
        return _down(name, address, why)
    if answer.status == 401:
        refused = missing or "it refused the password in the secrets file ([monit] httpd_password)"
        return ServiceStatus(name, address, UNHEALTHY, detail=f"cannot log in: {refused}")
    if answer.status != 200:
        return _unhealthy(name, address, "/_status", answer)
    try:
        root = ElementTree.fromstring(answer.body)
    except ElementTree.ParseError:
        return _unhealthy(name, address, "/_status", answer)
    version = root.findtext("server/version") or None
    checks = root.findall("service")
    # status: a bit set per failed test; monitor 0: the check is switched off.
    failing = [
        s.findtext("name", "?")
        for s in checks
        if s.findtext("status", "0") != "0" and s.findtext("monitor", "1") != "0"
    ]
    unmonitored = [s.findtext("name", "?") for s in checks if s.findtext("monitor", "1") == "0"]
    detail = f"{len(checks)} checks, " + (
        f"{len(failing)} failing: {', '.join(failing)}" if failing else "none failing"
    )
    if unmonitored:
        detail += f"; not monitored: {', '.join(unmonitored)}"
    return ServiceStatus(name, address, UNHEALTHY if failing else UP, version, detail)
