"""A real Alertmanager started by a test on a rendered tree: its config and its flags file.

Listen address on a free loopback port and storage in the test's dir; every other flag and the
whole config as rendered.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any, Self

from sensor_bridge.checks.alertmanager import ready, runnable_args
from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.local.receiver import WebhookReceiver
from sensor_bridge.local.tools import require_tool
from sensor_bridge.render import RenderContext
from sensor_bridge.render.alertmanager import CONFIG_PATH, DEFAULTS_PATH
from sensor_bridge.site import Alertmanager as AlertmanagerSettings
from sensor_bridge.site import IrmSecrets, Paging

START_TIMEOUT_S = 15.0


class Alertmanager:
    def __init__(self, workdir: Path, root: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = runnable_args(
            (root / DEFAULTS_PATH).read_text(), self.port, workdir / "data", root / CONFIG_PATH
        )
        self._service = Service(
            [require_tool("prometheus-alertmanager"), *args], workdir / "alertmanager.log"
        )

    def start(self) -> Self:
        self._service.start()
        if not self._service.wait_until(lambda: ready(self.port), START_TIMEOUT_S):
            output = self._service.output()[-2000:]
            self._service.stop()
            raise RuntimeError(f"alertmanager did not become ready; log: {output}")
        return self

    def stop(self) -> None:
        self._service.stop()

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """Alerts as vmalert sends them (``POST /api/v2/alerts``, a JSON array)."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


FAST_PAGING = AlertmanagerSettings(
    shop=Paging(group_wait="1s", group_interval="2s", repeat_interval="1h"),
    system=Paging(group_wait="1s", group_interval="2s", repeat_interval="1h"),
    heartbeat_interval="1m",
)
"""Short waits so that a test sees the all-clear within seconds; routes and inhibitions are
the rendered ones whatever the timing."""


def routed_to(
    context: RenderContext,
    receiver: WebhookReceiver,
    settings: AlertmanagerSettings = FAST_PAGING,
) -> RenderContext:
    """``context`` with IRM's URLs on ``receiver`` (paths owner, support, heartbeat)."""
    irm = IrmSecrets(
        owner_url=receiver.url("owner"),
        support_url=receiver.url("support"),
        heartbeat_url=receiver.url("heartbeat"),
    )
    return RenderContext(
        context.site.model_copy(update={"alertmanager": settings}),
        context.secrets.model_copy(update={"irm": irm}),
    )
