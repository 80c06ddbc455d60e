"""The pipeline from MQTT to VictoriaMetrics, for tests: Vector itself when a ``vector`` binary is
on PATH, else a small forwarder that runs the rendered VRL with vrl-python
(``sensor_bridge.checks.vrl_runtime``).

``start_pipeline(context, broker_port=..., vm_url=..., workdir=...)`` returns either; both are
context managers, say which they are in ``pipeline_kind`` ("vector" or "forwarder"), and list
the dead letters. Everything comes from the rendered config (``sensor_bridge.render.vector``),
rendered with the test's VictoriaMetrics as the site's store, and the rendered secrets file,
whose ``SECRET[...]`` references both resolve as Vector does; only the broker's port, Grafana
Cloud's URL (``cloud_url``) and the data directory are the test's own.

The forwarder does what the rendered pipeline does, in the same order:

* subscribes like Vector's mqtt source: the site's fixed client id, ``clean_session=False``,
  QoS 1, every topic of the config, user ``pipeline`` and its password; and, like it, only
  once: after a reconnect it relies on the broker's persistent session;
* runs the rendered ``decode`` program on each message (receive time as ``.timestamp``), then
  the ``sort`` route's conditions on each event;
* writes metric events to the store as the ``prometheus_remote_write`` sink names them
  (``furnace_`` + name, the tags as labels, at the event's timestamp), through its import;
* counts dead letters as the ``count_dead_letters`` transform does and writes that counter too;
* retries a write VictoriaMetrics cannot take yet, as the sink with its disk buffer does;
* with the ``grafana_cloud`` sink rendered (``[grafana_cloud]`` in the secrets), sends the same
  samples there through a disk buffer (``local.cloud_sink``), and ``ALERTS`` read from the
  store's ``/federate`` as the rendered ``prometheus_scrape`` source does (``local.federate``).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import paho.mqtt.client as mqtt
import yaml

from sensor_bridge.checks.process import free_port, listening, wait_listening
from sensor_bridge.checks.vector import service_environment
from sensor_bridge.checks.vrl_runtime import Condition, Remap
from sensor_bridge.local import remote_write
from sensor_bridge.local.cloud_sink import RETRY_MAX_S, CloudSink
from sensor_bridge.local.federate import Federation
from sensor_bridge.local.victoriametrics import storing_in
from sensor_bridge.render import RenderContext, broker_stats, vector_cloud, vector_secrets
from sensor_bridge.render import vector as rendered
from sensor_bridge.render.examples import epoch_ms
from sensor_bridge.store.client import Store, StoreError

START_TIMEOUT_S = 30.0
WRITE_RETRY_S = 0.5
"""Vector's sink retries a write VictoriaMetrics could not take (down, restarting, 5xx) until
it succeeds, its disk buffer holding what comes meanwhile. The forwarder retries too, holding
the message unacknowledged: the broker keeps the rest queued in the persistent session."""


def start_pipeline(
    context: RenderContext,
    *,
    broker_port: int,
    vm_url: str,
    workdir: Path,
    cloud_url: str | None = None,
    cloud_retry_max_s: float = RETRY_MAX_S,
) -> VectorPipeline | Forwarder:
    """Vector when it is installed, else the forwarder; started; writing to the single node at
    ``vm_url``. ``cloud_url``: where the ``grafana_cloud`` sink writes instead of the secrets
    file's URL (a test's stand-in)."""
    site = storing_in(context, vm_url).site
    to_cloud = context.secrets.grafana_cloud is not None
    config = rendered.config(site, to_cloud)
    secrets = vector_secrets.file_text(context.site, context.secrets)
    if VectorPipeline.available():
        return VectorPipeline(config, secrets, broker_port, workdir, cloud_url).start()
    resolved = rendered_config(config, secrets)
    forwarder = Forwarder(
        resolved,
        broker_port,
        Store(site.storage.urls),
        workdir,
        cloud_url=cloud_url,
        cloud_retry_max_s=cloud_retry_max_s,
    )
    return forwarder.start()


def rendered_config(config: dict[str, Any], secrets: str) -> dict[str, Any]:
    """``config`` as Vector loads it: written out, references resolved from ``secrets``."""
    loaded: dict[str, Any] = yaml.safe_load(
        vector_secrets.resolve(rendered.to_yaml(config), secrets)
    )
    return loaded


class Forwarder:
    """Vector's mqtt source, decode, route and sinks, emulated with vrl-python and paho."""

    pipeline_kind = "forwarder"

    def __init__(
        self,
        config: dict[str, Any],
        broker_port: int,
        store: Store,
        workdir: Path,
        *,
        cloud_url: str | None = None,
        cloud_retry_max_s: float = RETRY_MAX_S,
    ) -> None:
        """``config``: the rendered config with its secrets resolved (``rendered_config``)."""
        source = config["sources"]["devices"]
        transforms = config["transforms"]
        self.cloud: CloudSink | None = None
        self._federation: Federation | None = None
        cloud = config["sinks"].get(vector_cloud.SINK)
        if cloud is not None:
            self.cloud = CloudSink(
                cloud, workdir / "cloud-buffer", endpoint=cloud_url, retry_max_s=cloud_retry_max_s
            )
            scrape = config["sources"][vector_cloud.ALERTS_SOURCE]
            self._federation = Federation(scrape, self.cloud)
        self._topics: list[str] = source["topic"]
        self._port = broker_port
        self._store = store
        self._namespace = config["sinks"]["victoriametrics"]["default_namespace"]
        self._decode = Remap(transforms["decode"]["source"])
        route = transforms[rendered.ROUTE]["route"]
        self._dead_letter_route = Condition(route[rendered.DEAD_LETTER_ROUTE])
        counter = transforms["count_dead_letters"]["metrics"][0]
        self._dead_letter_metric = f"{self._namespace}_{counter['name']}"
        self._counted_tags = list(counter["tags"])
        self._counts: Counter[tuple[str, ...]] = Counter()
        self.dead_letters: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []
        self.processed = 0
        self._subscribing = False
        self._subscribed = False
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=source["client_id"], clean_session=False
        )
        self._client.username_pw_set(source["user"], source["password"])
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 2)

    def start(self) -> Self:
        if self.cloud is not None and self._federation is not None:
            self.cloud.start()
            self._federation.start()
        self._client.connect("127.0.0.1", self._port, keepalive=30)
        self._client.loop_start()
        self.wait_for(lambda: self._subscribed, START_TIMEOUT_S)
        return self

    def healthy(self) -> bool:
        """Connected to the broker (what Vector's /health says of its source here)."""
        return self._client.is_connected()

    def stop(self) -> None:
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()
        if self._federation is not None:
            self._federation.stop()
        if self.cloud is not None:
            self.cloud.stop()
        if self.errors:
            raise RuntimeError(f"the forwarder failed: {self.errors!r}") from self.errors[0]

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Block until ``predicate`` holds (checked whenever a message was handled)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.errors:
                    raise TimeoutError(f"not reached in {timeout} s; errors: {self.errors!r}")
                self._changed.wait(min(remaining, 0.2))

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: Any, props: object = None
    ) -> None:
        # Vector subscribes once and never again: after a reconnect the broker's persistent
        # session must still hold the subscription.
        if rc.is_failure or self._subscribing:
            return
        self._subscribing = True
        client.subscribe([(topic, 1) for topic in self._topics])

    def _on_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, codes: Any, props: object = None
    ) -> None:
        # Started only once the broker holds the subscription: a message published earlier
        # would reach nobody.
        with self._changed:
            self._subscribed = not any(code.is_failure for code in codes)
            self._changed.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        received = datetime.now(UTC)
        try:
            event = {"message": bytes(msg.payload), "topic": msg.topic, "timestamp": received}
            self._forward(self._decode.run(event))
        # Kept for stop() and wait_for(): an exception here would only reach paho's thread.
        except Exception as error:
            self.errors.append(error)
        with self._changed:
            self.processed += 1
            self._changed.notify_all()

    def _forward(self, events: list[dict[str, Any]]) -> None:
        lines = []
        for event in events:
            if self._dead_letter_route.holds(event):
                lines.append(self._count(event))
            else:
                lines.append(self._sample(event))
        self._write("".join(json.dumps(line) + "\n" for line in lines).encode())
        if self.cloud is not None:
            # The same samples, buffered for the cloud; a full buffer drops them (drop_newest).
            self.cloud.send([_series(line) for line in lines])

    def _write(self, body: bytes) -> None:
        while True:
            try:
                self._store.import_lines(body)
                return
            except StoreError as error:
                # A request VictoriaMetrics refuses (4xx) would be refused again.
                if error.status is not None and error.status < 500:
                    raise
            if self._stopping.wait(WRITE_RETRY_S):
                raise RuntimeError("stopped before VictoriaMetrics took a message")

    def _sample(self, event: dict[str, Any]) -> dict[str, Any]:
        kind = "gauge" if "gauge" in event else "counter"
        name = f"{event.get('namespace', self._namespace)}_{event['name']}"
        return _import_line(name, event["tags"], event[kind]["value"], event["timestamp"])

    def _count(self, event: dict[str, Any]) -> dict[str, Any]:
        tags = {tag: str(event.get(tag, "")) for tag in self._counted_tags}
        key = tuple(tags.values())
        with self._changed:
            self.dead_letters.append(event)
            self._counts[key] += 1
            count = self._counts[key]
        return _import_line(self._dead_letter_metric, tags, float(count), event["timestamp"])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _series(line: dict[str, Any]) -> remote_write.Series:
    """An ``/api/v1/import`` line as the remote-write series it is."""
    samples = list(zip(line["timestamps"], line["values"], strict=True))
    return remote_write.Series(line["metric"], samples)


def _import_line(name: str, tags: dict[str, str], value: float, when: datetime) -> dict[str, Any]:
    # VictoriaMetrics drops empty labels; so does the remote-write path.
    labels = {key: text for key, text in tags.items() if text}
    return {
        "metric": {"__name__": name, **labels},
        "values": [value],
        "timestamps": [epoch_ms(when)],
    }


class VectorPipeline:
    """The real Vector on the rendered config, with the test's broker port, data directory and
    API port."""

    pipeline_kind = "vector"

    @staticmethod
    def available() -> bool:
        from shutil import which

        return which("vector") is not None

    def __init__(
        self,
        config: dict[str, Any],
        secrets: str,
        broker_port: int,
        workdir: Path,
        cloud_url: str | None = None,
    ) -> None:
        data = workdir / "vector-data"
        data.mkdir(parents=True, exist_ok=True)
        self._dead_letter_dir = data / rendered.DEAD_LETTER_DIR
        self._api_port = free_port()
        config["data_dir"] = str(data)
        config["api"]["address"] = f"127.0.0.1:{self._api_port}"
        config["sources"]["devices"].update(host="127.0.0.1", port=broker_port)
        config["sources"][broker_stats.SOURCE].update(host="127.0.0.1", port=broker_port)
        config["sinks"][broker_stats.SINK]["address"] = f"127.0.0.1:{free_port()}"
        config["sinks"]["dead_letter_files"]["path"] = str(
            self._dead_letter_dir / "%Y-%m-%dT%H.jsonl"
        )
        if vector_cloud.SINK in config["sinks"] and cloud_url is not None:
            config["sinks"][vector_cloud.SINK]["endpoint"] = cloud_url
        self._workdir = workdir
        self._config_path = workdir / "vector.yaml"
        self._config_path.write_text(rendered.to_yaml(config))
        # The secret backend's relative path, from the working directory, as on the Pi.
        secrets_file = workdir / vector_secrets.FILE_NAME
        secrets_file.write_text(secrets)
        secrets_file.chmod(0o600)
        self._log = workdir / "vector.log"
        # As the Pi runs it: no VECTOR_* variable (they are Vector's command-line options).
        self._env = service_environment(os.environ)
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
                ["vector", "--config", str(self._config_path)],
                env=self._env,
                cwd=self._workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_listening(self._api_port, timeout=START_TIMEOUT_S)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"vector did not start: {self._log.read_text()[-2000:]}") from None
        return self

    def healthy(self) -> bool:
        return listening(self._api_port)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=30)
            self._proc = None

    @property
    def dead_letters(self) -> list[dict[str, Any]]:
        """What the dead-letter file sink wrote so far."""
        files = sorted(self._dead_letter_dir.glob("*.jsonl"))
        return [json.loads(line) for path in files for line in path.read_text().splitlines()]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
