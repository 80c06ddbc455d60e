"""After the restarts: does every service answer where monit will look for it?

The same probes as monit's checks (``render.monit.watched``: each service's ``health`` in the
registry): an HTTP request with the expected answer, or a TCP connect. Containers may need a
while after a restart (the first start pulls nothing, the images are pulled by the deploy, but
VictoriaMetrics opens its data), so each service gets until the deadline.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from sensor_bridge.registry import Health
from sensor_bridge.render.monit import watched
from sensor_bridge.site import Site

PROBE_TIMEOUT_S = 2.0
POLL_S = 1.0


def probe(address: str, health: Health) -> str | None:
    """None when the service at ``address`` (``host:port``) answers as ``health`` expects;
    else what is wrong."""
    host, _, port = address.rpartition(":")
    if health.path is None:
        try:
            with socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S):
                return None
        except OSError as error:
            return f"no TCP connection to {address} ({error.strerror or error})"
    url = f"http://{address}{health.path}"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as response:
            body = response.read(4096).decode(errors="replace")
    except urllib.error.HTTPError as error:
        error.close()
        return f"{url} answered HTTP {error.code}"
    except OSError as error:
        return f"{url} does not answer ({error})"
    if health.content is not None and health.content not in body:
        return f"{url} answered without {health.content!r}"
    return None


def unhealthy(
    site: Site,
    timeout_s: float,
    check: Callable[[str, Health], str | None] = probe,
) -> dict[str, str]:
    """Service name -> problem, for every service still failing at the deadline."""
    deadline = time.monotonic() + timeout_s
    pending = {
        service.name: (service.address.load()(site), service.health)
        for service in watched(site)
        if service.health is not None
    }
    problems: dict[str, str] = {}
    while True:
        problems = {}
        for name, (address, health) in pending.items():
            problem = check(address, health)
            if problem is not None:
                problems[name] = problem
        pending = {name: pending[name] for name in problems}
        if not pending or time.monotonic() >= deadline:
            return problems
        time.sleep(POLL_S)
