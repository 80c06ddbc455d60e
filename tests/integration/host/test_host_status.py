"""``sensor-bridge status`` against real services started here: Mosquitto on the rendered
config (the pipeline's login and ACL, ``$SYS`` included), VictoriaMetrics with the rendered
flags (fed over remote write, as Vector feeds it) and Alertmanager on the rendered config
(fed the alerts vmalert would send). The devices' retained statuses are published by the
devices' own MQTT logins.

The tree of rendered files is the "machine": what is in it is deployed; vmalert, Vector, Alloy
and monit are not in it and read "not deployed here"."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.alerting import alerts, promql
from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.local.alertmanager import Alertmanager, routed_to
from sensor_bridge.local.broker import RenderedMosquitto
from sensor_bridge.local.examples import example_site
from sensor_bridge.local.receiver import WebhookReceiver
from sensor_bridge.local.remote_write import Series, write
from sensor_bridge.local.tools import require_tool
from sensor_bridge.local.victoriametrics import VictoriaMetrics, storing_in
from sensor_bridge.registry import NAMES
from sensor_bridge.render import RenderContext, alertmanager, mosquitto, victoriametrics, vmalert
from sensor_bridge.site import load_secrets, load_site
from sensor_bridge.status.report import EXIT_OK, EXIT_WRONG
from sensor_bridge.tree import write_tree
from sensor_protocol.fields import STATUS_FIELDS
from sensor_protocol.payloads import OFFLINE_PAYLOAD, encode_status
from sensor_protocol.topics import STATUS, build_topic
from tests.support.cli import run
from tests.support.recorder import DevicePublisher

FURNACE = "furnace-1"
GLORY_HOLE = "glory-hole"


@dataclass
class Stack:
    site_file: Path
    root: Path
    context: RenderContext
    broker: RenderedMosquitto
    vm: VictoriaMetrics
    manager: Alertmanager
    elsewhere: dict[str, int]
    """The services not started here, each at a loopback port nothing listens on."""

    def args(self, *extra: str) -> list[str]:
        addresses = {
            "mosquitto": self.broker.port,
            "victoriametrics": self.vm.port,
            "alertmanager": self.manager.port,
            **self.elsewhere,
        }
        moved = [f"--address={name}=127.0.0.1:{port}" for name, port in addresses.items()]
        return ["status", "--site", str(self.site_file), "--root", str(self.root), *moved, *extra]

    def status(self, *extra: str) -> tuple[int, str]:
        result = run(*self.args(*extra))
        return result.exit_code, result.output

    def publish_status(self, device: str, payload: str) -> None:
        """``device``'s retained status, published with the device's own login."""
        publisher = DevicePublisher(
            self.broker.port, device, self.context.secrets.device_password(device)
        )
        topic = build_topic(self.context.site.topic_root, self.context.site.studio, device, STATUS)
        publisher.publish(topic, payload, retain=True)
        publisher.close()

    def samples(self, device: str, age_s: float, temp_c: float, flame_v: float) -> None:
        """One reading and one health report of ``device``, stored ``age_s`` ago."""
        at = int((time.time() - age_s) * 1000)
        labels = {"studio": self.context.site.studio, "device": device}
        values = {
            "furnace_reading_sequence": 41.0,
            "furnace_furnace_temp": temp_c,
            "furnace_flame_volts": flame_v,
            "furnace_device_buffer_readings": 3.0,
        }
        series = [Series({"__name__": name, **labels}, [(at, v)]) for name, v in values.items()]
        assert write(self.vm.urls.remote_write, series) == 204
        self.vm.flush()

    def alert(
        self, name: str, device: str, kind: str, minutes_ago: float = 2, service: str = ""
    ) -> None:
        """An alert as vmalert posts it, firing since ``minutes_ago``."""
        started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        labels = {
            "alertname": name,
            alerts.TYPE_LABEL: kind,
            alerts.STUDIO_LABEL: self.context.site.studio,
            "severity": "critical",
        }
        if device:
            labels[alerts.DEVICE_LABEL] = device
        if service:
            labels[alerts.SERVICE_LABEL] = service
        self.manager.post(
            [
                {
                    "labels": labels,
                    "annotations": {"summary": f"{name} on {device or service}"},
                    "startsAt": started.isoformat(),
                }
            ]
        )


def birth(fw: str, reset_reason: str) -> str:
    status: dict[str, Any] = {field.key: None for field in STATUS_FIELDS}
    status |= {
        "state": "online",
        "fw": fw,
        "board": "raspberry_pi_pico_w",
        "reset_reason": reset_reason,
        "sample_period_s": 5.0,
    }
    return encode_status(7, status)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    site_file = example_site(tmp_path / "site")
    site = load_site(site_file)
    context = RenderContext(site, load_secrets(site))
    root = tmp_path / "root"
    with WebhookReceiver() as receiver:
        broker_files = mosquitto.render(context)
        (unit,) = victoriametrics.render(context)
        write_tree(root, [*broker_files, unit, *alertmanager.render(routed_to(context, receiver))])
        (conf,) = (f for f in broker_files if f.path == mosquitto.CONF_PATH)
        for name in ("broker", "vm", "alertmanager"):
            (tmp_path / name).mkdir()
        with (
            RenderedMosquitto(tmp_path / "broker", root, conf) as broker,
            VictoriaMetrics(tmp_path / "vm", unit.text) as vm,
            Alertmanager(tmp_path / "alertmanager", root) as manager,
        ):
            elsewhere = {name: free_port() for name in ("vmalert", "vector", "alloy", "monit")}
            yield Stack(site_file, root, context, broker, vm, manager, elsewhere)


def test_a_healthy_studio_reads_all_well(stack: Stack) -> None:
    stack.publish_status(FURNACE, birth("1.4.2", "POWER_ON"))
    stack.publish_status(GLORY_HOLE, birth("1.4.1", "WATCHDOG"))
    stack.samples(FURNACE, 3, temp_c=1052.34, flame_v=3.517)
    stack.samples(GLORY_HOLE, 4, temp_c=1101.0, flame_v=3.2)
    # The heartbeat always fires: it is not a problem.
    stack.alert(alerts.HEARTBEAT, "", alerts.SYSTEM)

    code, output = stack.status()
    print(f"\n{output}")

    assert code == EXIT_OK, output
    assert "all well" in output
    assert "Problems" not in output and "Traceback" not in output
    lines = output.splitlines()
    mosquitto_line = next(line for line in lines if " mosquitto " in line)
    assert mosquitto_line.split()[:3] == ["ok", "mosquitto", "2.0.11"], mosquitto_line
    assert "clients connected" in mosquitto_line
    assert any(line.split()[:2] == ["ok", "victoriametrics"] for line in lines), output
    assert any(line.split()[:3] == ["ok", "alertmanager", "0.25.0"] for line in lines), output
    for absent in ("vmalert", "vector", "alloy", "monit"):
        assert any(
            line.split()[:2] == ["--", absent] and "not deployed here" in line for line in lines
        ), output

    assert (
        "furnace-1 (Main furnace)     online, fw 1.4.2 on raspberry_pi_pico_w, reset POWER_ON"
        in output
    )
    assert "1052.3 °C  flame 3.52 V  buffer 3  newest sample 3 s ago" in output
    assert "online, fw 1.4.1 on raspberry_pi_pico_w, reset WATCHDOG (unexpected)" in output
    assert "1101.0 °C  flame 3.20 V  buffer 3  newest sample 4 s ago" in output
    assert "Alerts (from Alertmanager): 0 firing" in output


def test_the_installed_command_answers_in_json(stack: Stack) -> None:
    """The installed entry point, Python's start-up and imports included."""
    stack.publish_status(FURNACE, birth("1.4.2", "POWER_ON"))
    stack.publish_status(GLORY_HOLE, birth("1.4.2", "POWER_ON"))
    stack.samples(FURNACE, 2, temp_c=1000.0, flame_v=3.5)
    stack.samples(GLORY_HOLE, 2, temp_c=1000.0, flame_v=3.5)
    command = Path(sys.executable).parent / "sensor-bridge"
    assert command.exists() or shutil.which("sensor-bridge"), "sensor-bridge is not installed"
    done = subprocess.run(
        [str(command), *stack.args("--json")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    report = json.loads(done.stdout)
    print(f"\nsensor-bridge status --json: probes {report['elapsed_s']:.3f} s")
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert [s["state"] for s in report["services"]].count("up") == 3, report["services"]


def test_offline_stale_alerting_and_a_stopped_service_are_each_named(stack: Stack) -> None:
    stack.publish_status(FURNACE, birth("1.4.2", "POWER_ON"))
    stack.samples(FURNACE, 600, temp_c=1030.0, flame_v=0.05)
    stack.publish_status(GLORY_HOLE, OFFLINE_PAYLOAD)
    stack.alert(alerts.FLAME_OUT, FURNACE, alerts.SHOP, minutes_ago=3)
    stack.alert(alerts.SERVICE_DOWN, "", alerts.SYSTEM, service="vmalert")
    # vmalert is deployed on this machine (its quadlet is in place), but it is not running.
    quadlet = next(f for f in vmalert.render(stack.context) if f.path.suffix == ".container")
    write_tree(stack.root, [quadlet])

    code, output = stack.status()
    print(f"\n{output}")
    assert code == EXIT_WRONG, output
    assert "Traceback" not in output
    assert "3 s ago" not in output
    problems = output.split("Problems\n", 1)[1].splitlines()
    vmalert_port = stack.elsewhere["vmalert"]
    assert problems == [
        f"  - vmalert: not running: connection refused at 127.0.0.1:{vmalert_port}",
        "  - furnace-1: online, but no fresh samples in VictoriaMetrics: the pipeline stalled",
        "  - glory-hole: offline: the broker lost it (its last will)",
        "  - alert FlameOut firing on furnace-1",
        "  - alert ServiceDown firing on vmalert",
    ], output
    assert "1030.0 °C (10 min ago)  flame 0.05 V (10 min ago)" in output
    assert "temperature -  flame -  buffer -  no sample in the last 1h" in output
    flame_line = next(line for line in output.splitlines() if "FlameOut" in line)
    assert flame_line.split()[:4] == ["FIRE", "shop", "FlameOut", FURNACE], flame_line
    assert "(3 min)" in flame_line and "FlameOut on furnace-1" in flame_line

    code, text = stack.status("--json")
    assert code == EXIT_WRONG
    report = json.loads(text)
    assert report["exit"] == EXIT_WRONG
    assert [s["name"] for s in report["services"]] == list(NAMES)
    by_service = {s["name"]: s for s in report["services"]}
    assert by_service["vmalert"]["state"] == "not running"
    assert by_service["vmalert"]["ok"] is False
    assert by_service["vector"]["state"] == "not deployed here"
    assert by_service["mosquitto"]["version"] == "2.0.11"
    devices = {d["id"]: d for d in report["devices"]}
    assert devices[GLORY_HOLE]["state"] == "offline"
    assert devices[GLORY_HOLE]["firmware"] is None
    furnace = devices[FURNACE]
    assert (furnace["state"], furnace["firmware"], furnace["flow"]) == ("online", "1.4.2", "stale")
    assert furnace["temperature_c"]["value"] == pytest.approx(1030.0)
    assert furnace["temperature_c"]["age_s"] == pytest.approx(600, abs=5)
    assert furnace["buffer_depth"]["value"] == 3
    assert furnace["last_sample_age_s"] == pytest.approx(600, abs=5)
    assert report["alerts"]["source"] == "Alertmanager"
    assert [(a["name"], a["type"], a["subject"]) for a in report["alerts"]["firing"]] == [
        (alerts.FLAME_OUT, alerts.SHOP, FURNACE),
        (alerts.SERVICE_DOWN, alerts.SYSTEM, "vmalert"),
    ]
    assert report["problems"] == [line.removeprefix("  - ") for line in problems]


def test_with_no_service_running_every_line_says_so(tmp_path: Path) -> None:
    site_file = example_site(tmp_path / "site")
    site = load_site(site_file)
    context = RenderContext(site, load_secrets(site))
    root = tmp_path / "root"
    deployed = [
        *mosquitto.render(context),
        *victoriametrics.render(context),
        *alertmanager.render(context),
    ]
    write_tree(root, deployed)
    moved = [f"--address={name}=127.0.0.1:{free_port()}" for name in NAMES]

    result = run("status", "--site", str(site_file), "--root", str(root), *moved)
    print(f"\n{result.output}")
    assert result.exit_code == EXIT_WRONG
    assert "Traceback" not in result.output
    ports = dict(item.removeprefix("--address=").split("=") for item in moved)
    for name in ("mosquitto", "victoriametrics", "alertmanager"):
        line = next(line for line in result.output.splitlines() if f" {name} " in line)
        assert line.split()[:2] == ["DOWN", name], line
        assert line.endswith(f"not running: connection refused at {ports[name]}"), line
    assert "alerts: unknown, neither Alertmanager nor vmalert answers" in result.output
    assert "state unknown (broker not asked)" in result.output

    # Nothing installed either: nothing is "not running", and that is said in one line.
    result = run("status", "--site", str(site_file), "--root", str(tmp_path / "empty"), *moved)
    assert result.exit_code == EXIT_WRONG
    assert result.output.count("not deployed here") == len(NAMES) + 1
    assert result.output.endswith(
        "Problems\n  - no service of the pipeline is deployed here, and none answers\n"
    )


def test_services_that_never_answer_cost_one_timeout_not_the_sum(tmp_path: Path) -> None:
    """A service that takes the connection and says nothing (hung, or a firewall that drops)
    is each probe's worst case: every probe waits its timeout, and all wait at once."""
    site_file = example_site(tmp_path / "site")
    silent = {name: socket.create_server(("127.0.0.1", 0)) for name in NAMES}
    try:
        moved = [f"--address={n}=127.0.0.1:{s.getsockname()[1]}" for n, s in silent.items()]
        result = run("status", "--site", str(site_file), "--json", "--timeout", "0.5", *moved)
    finally:
        for listener in silent.values():
            listener.close()
    report = json.loads(result.output)
    print(f"\nprobes took {report['elapsed_s']:.3f} s")
    assert result.exit_code == EXIT_WRONG
    for service in report["services"]:
        assert service["state"] != "up" and "within 0.5 s" in service["detail"], service
    # One probe after another would take at least len(NAMES) x 0.5 s.
    assert 0.5 <= report["elapsed_s"] < len(NAMES) * 0.5 / 2, report["elapsed_s"]


def test_with_alertmanager_down_the_alerts_come_from_vmalert(tmp_path: Path) -> None:
    """A real vmalert on the rendered rules, its notifier (Alertmanager) deployed but down: the
    flame-out it evaluates is listed, with its type; the heartbeat is not."""
    site_file = example_site(tmp_path / "site")
    site = load_site(site_file)
    context = RenderContext(site, load_secrets(site))
    root = tmp_path / "root"
    (unit,) = victoriametrics.render(context)
    files = [unit, *vmalert.render(context), *alertmanager.render(context)]
    write_tree(root, files)
    (tmp_path / "vm").mkdir()
    rules_port, dead_port = free_port(), free_port()
    with VictoriaMetrics(tmp_path / "vm", unit.text) as vm:
        # A dark flame rod for the last minute, one sample every 5 s as the device sends.
        now_ms = int(time.time() * 1000)
        labels = {"studio": site.studio, "device": FURNACE}
        dark = [(now_ms - step * 5000, 0.05) for step in range(13)]
        flame = Series({"__name__": promql.FLAME, **labels}, dark)
        assert write(vm.urls.remote_write, [flame]) == 204
        vm.flush()
        rules = Service(
            [
                require_tool("vmalert"),
                *vmalert.flags(
                    storing_in(context, vm.url).site,
                    rule_file=str(root / vmalert.rules_path(site)),
                    notifier_url=f"http://127.0.0.1:{dead_port}",
                    listen=f"127.0.0.1:{rules_port}",
                ),
            ],
            tmp_path / "vmalert.log",
        )
        with rules:
            fired = rules.wait_until(lambda: _firing(rules_port, alerts.FLAME_OUT), 15.0)
            assert fired, f"no FlameOut in vmalert within 15 s; log: {rules.output()[-2000:]}"
            moved = {
                "victoriametrics": vm.port,
                "vmalert": rules_port,
                "alertmanager": dead_port,
                **{name: free_port() for name in ("mosquitto", "vector", "alloy", "monit")},
            }
            args = [f"--address={name}=127.0.0.1:{port}" for name, port in moved.items()]
            result = run("status", "--site", str(site_file), "--root", str(root), "--json", *args)
    assert result.exit_code == EXIT_WRONG, result.output
    report = json.loads(result.output)
    by_service = {s["name"]: s for s in report["services"]}
    assert by_service["vmalert"]["state"] == "up", by_service["vmalert"]
    assert by_service["alertmanager"]["state"] == "not running"
    assert report["alerts"]["source"] == "vmalert"
    firing = [(a["name"], a["type"], a["subject"]) for a in report["alerts"]["firing"]]
    assert (alerts.FLAME_OUT, alerts.SHOP, FURNACE) in firing, firing
    assert all(name != alerts.HEARTBEAT for name, _, _ in firing), firing
    assert "alert FlameOut firing on furnace-1" in report["problems"]


def _firing(port: int, name: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=1) as answer:
            found = json.load(answer)["data"]["alerts"]
    except OSError:
        return False
    return any(a["name"] == name and a["state"] == "firing" for a in found)
