"""``sensor-bridge dataflow`` against a real Mosquitto (the rendered config, so the pipeline
user's login and ACL are the Pi's) and a real VictoriaMetrics (the rendered flags), in each
state: online and fresh, online and stale, offline, never connected, and cannot check."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sensor_bridge.dataflow import EXIT_CANNOT_CHECK, EXIT_OK, EXIT_STALE
from sensor_bridge.local.broker import RenderedMosquitto
from sensor_bridge.local.examples import example_site
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.render import RenderContext, mosquitto, victoriametrics
from sensor_bridge.site import load_secrets, load_site
from sensor_bridge.store.urls import DEFAULT_URL
from sensor_bridge.tree import write_tree
from sensor_protocol.fields import STATUS_FIELDS
from sensor_protocol.payloads import OFFLINE_PAYLOAD, encode_status
from sensor_protocol.topics import STATUS, build_topic
from tests.support.cli import run
from tests.support.recorder import DevicePublisher

FRESH_S = 5
STALE_S = 600
"""Older than the example site's monit.stale_after (1m)."""


@dataclass
class Stack:
    site_file: Path
    context: RenderContext
    broker: RenderedMosquitto
    vm: VictoriaMetrics

    def dataflow(self, *extra: str) -> tuple[int, str]:
        result = run(
            "dataflow",
            "--site",
            str(self.site_file),
            "--broker",
            f"127.0.0.1:{self.broker.port}",
            *extra,
        )
        return result.exit_code, result.output

    def status(self, device: str, payload: str) -> None:
        """Publish ``device``'s retained status as the device itself."""
        publisher = DevicePublisher(
            self.broker.port, device, self.context.secrets.device_password(device)
        )
        topic = build_topic(self.context.site.topic_root, self.context.site.studio, device, STATUS)
        publisher.publish(topic, payload, retain=True)
        publisher.close()

    def sample(self, device: str, age_s: float) -> None:
        """A reading's sequence number stored ``age_s`` ago, as the pipeline stores it."""
        line = {
            "metric": {
                "__name__": "furnace_reading_sequence",
                "studio": self.context.site.studio,
                "device": device,
            },
            "values": [1],
            "timestamps": [int((time.time() - age_s) * 1000)],
        }
        self.vm.import_lines(json.dumps(line).encode())
        self.vm.flush()


def _online() -> str:
    status = {field.key: None for field in STATUS_FIELDS}
    return encode_status(3, {**status, "state": "online"})


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    site_file = example_site(tmp_path / "site")
    site = load_site(site_file)
    context = RenderContext(site, load_secrets(site))
    tree = tmp_path / "tree"
    files = mosquitto.render(context)
    write_tree(tree, files)
    (conf,) = (f for f in files if f.path == mosquitto.CONF_PATH)
    (broker_dir := tmp_path / "broker").mkdir()
    (vm_dir := tmp_path / "vm").mkdir()
    (unit,) = victoriametrics.render(context)
    with (
        RenderedMosquitto(broker_dir, tree, conf) as broker,
        VictoriaMetrics(vm_dir, unit.text) as vm,
    ):
        # As monit runs it: the store comes from the site file.
        text = site_file.read_text()
        site_file.write_text(text.replace(f'url = "{DEFAULT_URL}"', f'url = "{vm.url}"', 1))
        assert load_site(site_file).storage.urls.select == vm.url
        yield Stack(site_file, context, broker, vm)


def test_each_device_state_gives_its_verdict(stack: Stack) -> None:
    # Nothing yet: no device has ever connected, so nothing is the pipeline's fault.
    code, output = stack.dataflow()
    assert code == EXIT_OK, output
    assert output.count("unknown, no sample in the last 1h: not connected") == 2, output

    # online + fresh, offline (with old data): all is well.
    stack.status("furnace-1", _online())
    stack.sample("furnace-1", FRESH_S)
    stack.status("glory-hole", OFFLINE_PAYLOAD)
    stack.sample("glory-hole", STALE_S)
    code, output = stack.dataflow()
    assert code == EXIT_OK, output
    assert "furnace-1: online, newest sample 5 s ago: ok" in output
    assert "glory-hole: offline, newest sample 10 min ago: not connected" in output

    # online + stale: the pipeline stalled.
    stack.status("glory-hole", _online())
    code, output = stack.dataflow("--json")
    assert code == EXIT_STALE, output
    verdict = json.loads(output)
    assert verdict["exit"] == EXIT_STALE
    by_device = {d["device"]: d for d in verdict["devices"]}
    assert by_device["glory-hole"]["verdict"] == "stale"
    assert by_device["glory-hole"]["age_s"] == pytest.approx(STALE_S, abs=5)
    assert by_device["furnace-1"]["verdict"] == "flowing"

    # The device went offline after all: an alert, not a pipeline fault.
    stack.status("glory-hole", OFFLINE_PAYLOAD)
    code, output = stack.dataflow()
    assert code == EXIT_OK, output


def test_an_unreachable_service_is_cannot_check(stack: Stack) -> None:
    stack.vm.stop()
    code, output = stack.dataflow()
    assert code == EXIT_CANNOT_CHECK
    assert output.startswith(f"sensor-bridge: VictoriaMetrics at {stack.vm.url} does not answer"), (
        output
    )
    assert "Traceback" not in output

    stack.broker.stop()
    code, output = stack.dataflow()
    assert code == EXIT_CANNOT_CHECK
    assert output.startswith("sensor-bridge: cannot reach the broker at 127.0.0.1:"), output
