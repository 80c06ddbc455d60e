"""The host side on one machine: Mosquitto → pipeline → VictoriaMetrics → vmalert →
Alertmanager → a receiver standing in for Grafana IRM, each on the rendered configuration.

``LocalStack(context, workdir)`` renders the site into ``workdir/root`` (IRM's URLs pointed at
its own receiver) and starts every service on free loopback ports, with a prober writing the
``up`` series Alloy writes on the Pi; each service can be restarted on its own
(``restart_broker``, ``restart_pipeline``, ``restart_storage``, ``restart_rules``) as the system
tests and the demo do. Stopping always stops everything, in reverse order.

``defer_rules``: vmalert starts only when ``start_rules`` is called. On an empty store every
device is "no data" until its first reading lands; the demo and the tests start the rules once
the devices publish, as a Pi's vmalert starts on months of history.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import urllib.request
from pathlib import Path
from typing import Any, Self

from sensor_bridge.checks.process import Service, free_port, listening
from sensor_bridge.local import furnaces
from sensor_bridge.local.alertmanager import Alertmanager, routed_to
from sensor_bridge.local.broker import RenderedMosquitto
from sensor_bridge.local.pipeline import Forwarder, VectorPipeline, start_pipeline
from sensor_bridge.local.prober import Prober, http_ok
from sensor_bridge.local.receiver import WebhookReceiver
from sensor_bridge.local.tools import require_tool
from sensor_bridge.local.victoriametrics import VictoriaMetrics, storing_in
from sensor_bridge.registry import (
    ALERTMANAGER,
    MOSQUITTO,
    VECTOR,
    VICTORIAMETRICS,
    VMALERT,
    Health,
)
from sensor_bridge.render import (
    RenderContext,
    alertmanager,
    mosquitto,
    victoriametrics,
    vmalert,
)
from sensor_bridge.site import Alertmanager as AlertmanagerSettings
from sensor_bridge.tree import write_tree

START_TIMEOUT_S = 20.0


class LocalStack:
    """Every host service of ``context``'s site, started by ``start`` (or ``with``)."""

    def __init__(
        self,
        context: RenderContext,
        workdir: Path,
        *,
        paging: AlertmanagerSettings | None = None,
        defer_rules: bool = False,
    ) -> None:
        """``paging``: Alertmanager's waits, when not the site's (tests shorten them)."""
        self.workdir = workdir
        self.receiver = WebhookReceiver()
        (store_unit,) = victoriametrics.render(context)
        self.storage = VictoriaMetrics(_dir(workdir / "victoriametrics"), store_unit.text)
        routed = routed_to(context, self.receiver, settings=paging or context.site.alertmanager)
        self.context = storing_in(routed, self.storage.url)
        self.root = workdir / "root"
        self.files = [
            store_unit,
            *mosquitto.render(_boards_on_loopback(self.context)),
            *vmalert.render(self.context),
            *alertmanager.render(self.context),
        ]
        write_tree(self.root, self.files)
        conf = next(f for f in self.files if f.path == mosquitto.CONF_PATH)
        self.broker = RenderedMosquitto(_dir(workdir / "mosquitto"), self.root, conf)
        self.alertmanager = Alertmanager(workdir / "alertmanager", self.root)
        self.rules_port = free_port()
        self.rules = Service(
            [
                require_tool("vmalert"),
                *vmalert.flags(
                    self.context.site,
                    rule_file=str(self.root / vmalert.rules_path(self.context.site)),
                    notifier_url=self.alertmanager.url,
                    listen=f"127.0.0.1:{self.rules_port}",
                ),
            ],
            workdir / "vmalert.log",
        )
        self.pipeline: VectorPipeline | Forwarder | None = None
        self.prober = Prober(
            self.storage,
            self.context.site.studio,
            {
                MOSQUITTO.name: lambda: listening(self.broker.port),
                VICTORIAMETRICS.name: self.storage.healthy,
                VMALERT.name: http_ok(f"http://127.0.0.1:{self.rules_port}{_path(VMALERT.health)}"),
                ALERTMANAGER.name: http_ok(f"{self.alertmanager.url}{_path(ALERTMANAGER.health)}"),
                VECTOR.name: lambda: self.pipeline is not None and self.pipeline.healthy(),
            },
        )
        self._defer_rules = defer_rules
        self._stack = contextlib.ExitStack()

    @property
    def site(self) -> Any:
        return self.context.site

    @property
    def broker_port(self) -> int:
        """The plain listener's port, for the Pi's own clients (the pipeline, observers)."""
        return self.broker.port

    @property
    def board_port(self) -> int:
        """Where the virtual boards connect: the TLS listener when they speak TLS."""
        return furnaces.board_port(self.site, self.broker.ports)

    @property
    def pipeline_kind(self) -> str:
        """ "vector" or "forwarder" (the rendered VRL run by vrl-python, when Vector is absent)."""
        if self.pipeline is None:
            raise RuntimeError("the stack is not started")
        return self.pipeline.pipeline_kind

    def start(self) -> Self:
        try:
            self._stack.enter_context(self.receiver)
            self._stack.callback(self.broker.stop)
            self.broker.start()
            self._stack.enter_context(self.storage)
            self._stack.enter_context(self.alertmanager)
            self._stack.callback(self.rules.stop)
            if not self._defer_rules:
                self.start_rules()
            self._stack.callback(self._stop_pipeline)
            self._start_pipeline()
            self._stack.enter_context(self.prober)
        except BaseException:
            self._stack.close()
            raise
        return self

    def stop(self) -> None:
        self._stack.close()

    def restart_broker(self) -> None:
        """A graceful restart: the broker saves and reloads its store (sessions, queues)."""
        self.broker.restart()

    def restart_pipeline(self) -> None:
        self._stop_pipeline()
        self._start_pipeline()

    def restart_storage(self) -> None:
        self.storage.restart()

    def restart_rules(self) -> None:
        self.rules.stop()
        self.start_rules()

    def firing(self) -> list[dict[str, Any]]:
        """vmalert's active alerts (pending and firing), as its API lists them."""
        url = f"http://127.0.0.1:{self.rules_port}/api/v1/alerts"
        with urllib.request.urlopen(url, timeout=5) as response:
            alerts: list[dict[str, Any]] = json.load(response)["data"]["alerts"]
            return alerts

    def start_rules(self) -> None:
        self.rules.start()
        if not self.rules.wait_until(lambda: listening(self.rules_port), START_TIMEOUT_S):
            output = self.rules.output()[-2000:]
            self.rules.stop()
            raise RuntimeError(f"vmalert did not start; log: {output}")

    def _start_pipeline(self) -> None:
        self.pipeline = start_pipeline(
            self.context,
            broker_port=self.broker.port,
            vm_url=self.storage.url,
            workdir=_dir(self.workdir / "pipeline"),
        )

    def _stop_pipeline(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _boards_on_loopback(context: RenderContext) -> RenderContext:
    """The boards of a stack on one machine reach the broker on 127.0.0.1: its certificate
    names that."""
    site = context.site
    broker = site.broker.model_copy(update={"device_address": "127.0.0.1"})
    return dataclasses.replace(context, site=site.model_copy(update={"broker": broker}))


def _path(health: Health | None) -> str:
    """A service's health path, from the registry."""
    assert health is not None and health.path is not None, health
    return health.path


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
