"""The real Mosquitto on the rendered conf.d, password file and ACL of the example site."""

from __future__ import annotations

import queue
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from sensor_bridge.local.broker import RenderedMosquitto
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.tools import require_tool
from sensor_bridge.render import RenderContext, mosquitto
from sensor_bridge.tree import write_tree
from sensor_protocol.topics import TELEMETRY, build_topic, device_filter
from tests.support.recorder import DevicePublisher, Message, Recorder
from tests.support.waiting import stays_true

PASSWORDS = {
    "furnace-1": "change-me-furnace-1",
    "glory-hole": "change-me-glory-hole",
    mosquitto.PIPELINE_USER: "change-me-pipeline",
}
TIMEOUT_S = 10.0
# A message that was not delivered within this time after a later one was, never will be.
SETTLE_S = 0.5


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path / "site")


@pytest.fixture
def broker(tmp_path: Path, context: RenderContext) -> Iterator[RenderedMosquitto]:
    files = mosquitto.render(context)
    write_tree(tmp_path / "tree", files)
    conf = next(f for f in files if f.check == "mosquitto")
    workdir = tmp_path / "broker"
    workdir.mkdir()
    with RenderedMosquitto(workdir, tmp_path / "tree", conf) as running:
        yield running


def _topic(context: RenderContext, device: str, channel: str = TELEMETRY) -> str:
    return build_topic(context.site.topic_root, context.site.studio, device, channel)


def _connect_code(port: int, username: str | None, password: str | None) -> mqtt.ReasonCode:
    codes: queue.Queue[mqtt.ReasonCode] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{username}")
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = lambda c, u, flags, code, props: codes.put(code)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return codes.get(timeout=TIMEOUT_S)
    finally:
        client.disconnect()
        client.loop_stop()


def _device(port: int, username: str) -> DevicePublisher:
    return DevicePublisher(port, username, PASSWORDS[username], TIMEOUT_S)


def _pipeline(port: int) -> Recorder:
    return Recorder(
        port,
        [device_filter("furnace", "studio-1")],
        client_id="pipeline-test",
        username=mosquitto.PIPELINE_USER,
        password=PASSWORDS[mosquitto.PIPELINE_USER],
    )


def _wait_all(recorder: Recorder, count: int) -> list[Message]:
    """The first ``count`` messages, once they are all in."""
    recorder.wait_for(lambda m: True, TIMEOUT_S, after=count - 1)
    return recorder.messages[:count]


def test_anonymous_connect_is_refused(broker: RenderedMosquitto) -> None:
    assert _connect_code(broker.port, None, None) == "Not authorized"


def test_wrong_password_is_refused(broker: RenderedMosquitto) -> None:
    assert _connect_code(broker.port, "furnace-1", "change-me-glory-hole") == "Not authorized"
    assert _connect_code(broker.port, "furnace-1", PASSWORDS["furnace-1"]) == "Success"


def test_unknown_user_is_refused(broker: RenderedMosquitto) -> None:
    assert _connect_code(broker.port, "intruder", PASSWORDS["furnace-1"]) == "Not authorized"


def test_device_cannot_publish_as_another_device(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    with _pipeline(broker.port) as pipeline:
        device = _device(broker.port, "furnace-1")
        try:
            device.publish(_topic(context, "glory-hole"), "forged")
            # Mosquitto handles one client's messages in order: once this arrives, the forged
            # one would have too.
            device.publish(_topic(context, "furnace-1"), "own")
            pipeline.wait_for(lambda m: m.text == "own", TIMEOUT_S)
        finally:
            device.close()
        assert [m.text for m in pipeline.messages] == ["own"]


def test_device_reads_nothing(broker: RenderedMosquitto, context: RenderContext) -> None:
    spy = Recorder(
        broker.port,
        ["#", "$SYS/#"],
        client_id="spy",
        username="glory-hole",
        password=PASSWORDS["glory-hole"],
    )
    with spy, _pipeline(broker.port) as pipeline:
        device = _device(broker.port, "furnace-1")
        try:
            device.publish(_topic(context, "furnace-1"), "reading")
            pipeline.wait_for(lambda m: m.text == "reading", TIMEOUT_S)
        finally:
            device.close()
        stays_true(lambda: spy.messages == [], SETTLE_S, "the device account reads nothing")


def test_pipeline_receives_every_devices_telemetry(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    with _pipeline(broker.port) as pipeline:
        for device_id in ("furnace-1", "glory-hole"):
            device = _device(broker.port, device_id)
            try:
                device.publish(_topic(context, device_id), f"from {device_id}")
            finally:
                device.close()
        for device_id in ("furnace-1", "glory-hole"):
            (message,) = [m for m in _wait_all(pipeline, 2) if m.text == f"from {device_id}"]
            assert message.topic == _topic(context, device_id)
            assert message.qos == 1


def test_pipeline_reads_sys(broker: RenderedMosquitto) -> None:
    recorder = Recorder(
        broker.port,
        ["$SYS/broker/version"],
        client_id="pipeline-sys",
        username=mosquitto.PIPELINE_USER,
        password=PASSWORDS[mosquitto.PIPELINE_USER],
    )
    with recorder:
        assert recorder.wait_for(lambda m: m.text.startswith("mosquitto"), TIMEOUT_S)


class PersistentSubscriber:
    """Subscribes like Vector's mqtt source: fixed client id, clean_session=False, QoS 1, and
    only on its first connection, never again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: queue.Queue[str] = queue.Queue()
        self.subscribed = False

    def session(self, topic: str) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id="sensor-pipeline-vector",
            clean_session=False,
        )
        client.username_pw_set(mosquitto.PIPELINE_USER, PASSWORDS[mosquitto.PIPELINE_USER])
        ready: queue.Queue[bool] = queue.Queue()

        def on_connect(c: mqtt.Client, u: object, flags: object, code: object, p: object) -> None:
            if self.subscribed:
                ready.put(True)
            else:
                c.subscribe(topic, qos=1)

        def on_subscribe(c: mqtt.Client, u: object, mid: int, codes: object, p: object) -> None:
            self.subscribed = True
            ready.put(True)

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = lambda c, u, message: self.received.put(message.payload.decode())
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        ready.get(timeout=TIMEOUT_S)
        return client


def test_queued_qos1_survives_offline_pipeline_and_broker_restart(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    subscriber = PersistentSubscriber(broker.port)
    first = subscriber.session(device_filter("furnace", "studio-1"))
    first.disconnect()
    first.loop_stop()

    device = _device(broker.port, "furnace-1")
    device.publish(_topic(context, "furnace-1"), "while offline")
    device.close()
    broker.restart()
    device = _device(broker.port, "furnace-1")
    device.publish(_topic(context, "furnace-1"), "after restart")
    device.close()

    again = subscriber.session(device_filter("furnace", "studio-1"))
    try:
        assert subscriber.received.get(timeout=TIMEOUT_S) == "while offline"
        assert subscriber.received.get(timeout=TIMEOUT_S) == "after restart"
    finally:
        again.disconnect()
        again.loop_stop()


def test_hash_made_by_mosquitto_passwd_is_kept(tmp_path: Path, context: RenderContext) -> None:
    """A password file written by the real tool counts as previous: its hashes stay."""
    passwd = tmp_path / "passwd"
    passwd.touch(mode=0o600)
    for user, password in PASSWORDS.items():
        subprocess.run(
            [str(require_tool("mosquitto_passwd")), "-b", str(passwd), user, password],
            check=True,
        )
    previous = {mosquitto.PASSWD_PATH: passwd.read_text()}
    files = mosquitto.render(RenderContext(context.site, context.secrets, previous))
    rendered = next(f for f in files if f.path == mosquitto.PASSWD_PATH)
    assert rendered.text == passwd.read_text()
