"""The real Mosquitto on the rendered conf.d, password file and ACL of the example site."""

from __future__ import annotations

import queue
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from sensor_bridge import mqtt_accounts
from sensor_bridge.local.broker import RenderedMosquitto
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.tools import require_tool
from sensor_bridge.render import RenderContext, mosquitto
from sensor_bridge.tree import write_tree
from sensor_protocol.topics import STATUS, TELEMETRY, build_topic, device_filter
from tests.support.recorder import DevicePublisher, Message, Recorder
from tests.support.waiting import stays_true, wait_until

DEVICE_PASSWORDS = {"furnace-1": "change-me-furnace-1", "glory-hole": "change-me-glory-hole"}
SPY = ("test-spy", "spy-password")
"""Added to the rendered files by the fixture: reads everything, so that what a device or a
consumer managed to publish (or retain) shows, whoever the ACL lets read it."""
TIMEOUT_S = 10.0
# A message that was not delivered within this time after a later one was, never will be.
SETTLE_S = 0.5
VECTOR = "sensor-pipeline-vector"
CONSUMERS = [
    VECTOR,
    "sensor-pipeline-vector-sys",
    mqtt_accounts.STATUS_USER,
    mqtt_accounts.DATAFLOW_USER,
    mqtt_accounts.DEMO_USER,
    mqtt_accounts.OBSERVER_USER,
]


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path / "site")


@pytest.fixture
def broker(tmp_path: Path, context: RenderContext) -> Iterator[RenderedMosquitto]:
    files = mosquitto.render(context)
    write_tree(tmp_path / "tree", files)
    user, password = SPY
    with (tmp_path / "tree" / mosquitto.PASSWD_PATH).open("a") as passwd:
        passwd.write(f"{user}:{mosquitto.hash_password(password, b'twelve-bytes')}\n")
    with (tmp_path / "tree" / mosquitto.ACL_PATH).open("a") as acl:
        acl.write(f"\nuser {user}\ntopic read #\ntopic read $SYS/#\n")
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


def _device(port: int, username: str, client_id: str | None = None) -> DevicePublisher:
    return DevicePublisher(
        port, username, DEVICE_PASSWORDS[username], TIMEOUT_S, client_id=client_id
    )


def _login(context: RenderContext, user: str) -> tuple[str, str]:
    return mqtt_accounts.login(context.secrets, user)


def _recorder(port: int, login: tuple[str, str], topics: list[str]) -> Recorder:
    user, password = login
    return Recorder(port, topics, client_id=user, username=user, password=password)


def _spy(port: int) -> Recorder:
    return _recorder(port, SPY, ["#", "$SYS/#"])


def _pipeline(port: int, context: RenderContext) -> Recorder:
    return _recorder(port, _login(context, VECTOR), [device_filter("furnace", "studio-1")])


def _wait_all(recorder: Recorder, count: int) -> list[Message]:
    """The first ``count`` messages, once they are all in."""
    recorder.wait_for(lambda m: True, TIMEOUT_S, after=count - 1)
    return recorder.messages[:count]


def _device_topics(recorder: Recorder) -> set[str]:
    return {m.topic for m in recorder.messages if not m.topic.startswith("$SYS/")}


def test_anonymous_connect_is_refused(broker: RenderedMosquitto) -> None:
    assert _connect_code(broker.port, None, None) == "Not authorized"


def test_wrong_password_is_refused(broker: RenderedMosquitto) -> None:
    assert _connect_code(broker.port, "furnace-1", "change-me-glory-hole") == "Not authorized"
    assert _connect_code(broker.port, "furnace-1", DEVICE_PASSWORDS["furnace-1"]) == "Success"


def test_unknown_user_is_refused(broker: RenderedMosquitto) -> None:
    assert _connect_code(broker.port, "intruder", DEVICE_PASSWORDS["furnace-1"]) == "Not authorized"


def test_the_secrets_files_pipeline_password_is_no_login(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    """It is only the key the consumers' passwords derive from."""
    secret = context.secrets.pipeline_password()
    assert _connect_code(broker.port, VECTOR, secret) == "Not authorized"
    assert _connect_code(broker.port, "pipeline", secret) == "Not authorized"
    assert _connect_code(broker.port, *_login(context, VECTOR)) == "Success"


def test_device_cannot_publish_as_another_device(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    with _pipeline(broker.port, context) as pipeline:
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


def test_device_publishes_and_retains_on_its_four_channels_only(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    """Issue 15, Why 6: with ``write .../<device>/+`` any fifth channel was stored, retained."""
    fifth = "furnace/studio-1/furnace-1/fifth"
    with _spy(broker.port) as spy:
        device = _device(broker.port, "furnace-1")
        try:
            device.publish(fifth, "unbounded", retain=True)
            device.publish(fifth + "/deeper", "unbounded", retain=True)
            device.publish(_topic(context, "furnace-1", STATUS), "online", retain=True)
            spy.wait_for(lambda m: m.text == "online", TIMEOUT_S)
        finally:
            device.close()
        assert _device_topics(spy) == {_topic(context, "furnace-1", STATUS)}
    # What the broker kept: a new subscriber gets every retained message at once.
    with _spy(broker.port) as late:
        late.wait_for(lambda m: m.text == "online", TIMEOUT_S)
        stays_true(
            lambda: _device_topics(late) == {_topic(context, "furnace-1", STATUS)},
            SETTLE_S,
            "the broker retains nothing beyond the device's channels",
        )


def test_device_reads_nothing(broker: RenderedMosquitto, context: RenderContext) -> None:
    spy = Recorder(
        broker.port,
        ["#", "$SYS/#"],
        client_id="glory-hole",
        username="glory-hole",
        password=DEVICE_PASSWORDS["glory-hole"],
    )
    with spy, _pipeline(broker.port, context) as pipeline:
        device = _device(broker.port, "furnace-1")
        try:
            device.publish(_topic(context, "furnace-1"), "reading")
            device.publish(_topic(context, "furnace-1", STATUS), "online", retain=True)
            pipeline.wait_for(lambda m: m.text == "online", TIMEOUT_S)
        finally:
            device.close()
        stays_true(lambda: spy.messages == [], SETTLE_S, "the device account reads nothing")


def _granted(context: RenderContext, user: str) -> mqtt_accounts.Consumer:
    (consumer,) = [c for c in mqtt_accounts.consumers(context.site) if c.user == user]
    return consumer


def test_every_consumer_is_attacked_below(context: RenderContext) -> None:
    assert [c.user for c in mqtt_accounts.consumers(context.site)] == CONSUMERS


@pytest.mark.parametrize("user", CONSUMERS)
def test_each_consumer_reads_only_what_it_needs_and_publishes_nothing(
    broker: RenderedMosquitto, context: RenderContext, user: str
) -> None:
    """Every device channel and the broker's $SYS are offered; the consumer gets exactly its
    ACL's topics (``$SYS/broker/#`` for the statistics' source, where Mosquitto decides the
    set), and nothing it publishes reaches anybody."""
    consumer = _granted(context, user)
    everything = [
        _topic(context, device, channel)
        for device in DEVICE_PASSWORDS
        for channel in ("telemetry", "backfill", "health", "status")
    ]
    for device in DEVICE_PASSWORDS:
        publisher = _device(broker.port, device)
        try:
            for topic in everything:
                if topic.startswith(f"furnace/studio-1/{device}/"):
                    publisher.publish(topic, "retained", retain=True)
        finally:
            publisher.close()
    reads_sys = [t for t in consumer.reads if t.startswith("$SYS/")]
    wanted = {t for t in consumer.reads if not t.startswith("$SYS/")}
    with _recorder(broker.port, _login(context, user), ["#", "$SYS/#"]) as reader:
        wait_until(
            lambda: (
                _device_topics(reader) == wanted
                and all(any(_matches(m.topic, t) for m in reader.messages) for t in reads_sys)
            ),
            TIMEOUT_S + 10,  # $SYS arrives at the broker's first statistics interval
            f"{user} reads its topics",
        )
        assert all(any(_matches(m.topic, t) for t in consumer.reads) for m in reader.messages)
        with _spy(broker.port) as spy:
            seen = len(spy.messages)
            forger = DevicePublisher(broker.port, *_login(context, user), TIMEOUT_S)
            try:
                for topic in [*everything[:4], "$SYS/broker/forged", "anything"]:
                    forger.publish(topic, "forged", retain=True)
            finally:
                forger.close()
            stays_true(
                lambda: all(m.text != "forged" for m in spy.messages[seen:]),
                SETTLE_S,
                f"nothing {user} publishes is delivered",
            )


def _matches(topic: str, pattern: str) -> bool:
    return mqtt.topic_matches_sub(pattern, topic)


class PersistentSubscriber:
    """Subscribes like Vector's mqtt source: its account's client id, clean_session=False,
    QoS 1, and only on its first connection, never again."""

    def __init__(self, port: int, login: tuple[str, str]) -> None:
        self.port = port
        self.login = login
        self.received: queue.Queue[str] = queue.Queue()
        self.subscribed = False
        self.session_present: list[bool] = []
        """Per connection: whether the broker still had the session."""

    def session(self, topic: str) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.login[0], clean_session=False
        )
        client.username_pw_set(*self.login)
        ready: queue.Queue[bool] = queue.Queue()

        def on_connect(c: mqtt.Client, u: object, flags: Any, code: object, p: object) -> None:
            self.session_present.append(bool(flags.session_present))
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

    def received_now(self, count: int) -> list[str]:
        return [self.received.get(timeout=TIMEOUT_S) for _ in range(count)]


def _close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def test_queued_qos1_survives_offline_pipeline_and_broker_restart(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    subscriber = PersistentSubscriber(broker.port, _login(context, VECTOR))
    _close(subscriber.session(device_filter("furnace", "studio-1")))

    device = _device(broker.port, "furnace-1")
    device.publish(_topic(context, "furnace-1"), "while offline")
    device.close()
    broker.restart()
    device = _device(broker.port, "furnace-1")
    device.publish(_topic(context, "furnace-1"), "after restart")
    device.close()

    again = subscriber.session(device_filter("furnace", "studio-1"))
    try:
        assert subscriber.received_now(2) == ["while offline", "after restart"]
    finally:
        _close(again)


def test_a_device_login_cannot_take_over_the_pipelines_session(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    """Issue 15, Why 1: ``glory-hole`` logs in with the client id of Vector's source and a clean
    session; Vector reconnects as it does (persistent session, no new subscribe). The broker
    gave the attacker its own id, so the session and the readings it queued are all there."""
    subscriber = PersistentSubscriber(broker.port, _login(context, VECTOR))
    _close(subscriber.session(device_filter("furnace", "studio-1")))
    device = _device(broker.port, "furnace-1")
    try:
        for n in range(3):
            device.publish(_topic(context, "furnace-1"), f"acknowledged {n}")
        attacker = _device(broker.port, "glory-hole", client_id=VECTOR)
        attacker.close()
        pipeline = subscriber.session(device_filter("furnace", "studio-1"))
        try:
            assert subscriber.session_present == [False, True]
            assert subscriber.received_now(3) == [f"acknowledged {n}" for n in range(3)]
            device.publish(_topic(context, "furnace-1"), "later")
            assert subscriber.received_now(1) == ["later"]
        finally:
            _close(pipeline)
    finally:
        device.close()


def test_a_device_using_another_devices_client_id_does_not_kick_it(
    broker: RenderedMosquitto, context: RenderContext
) -> None:
    """Issue 15, Why 1: the victim's client id (the firmware's ``root/studio/device``) taken by
    another device's login leaves the victim connected, and its readings flowing."""
    victim_id = "furnace/studio-1/furnace-1"
    with _pipeline(broker.port, context) as pipeline:
        victim = _device(broker.port, "furnace-1", client_id=victim_id)
        try:
            attacker = _device(broker.port, "glory-hole", client_id=victim_id)
            try:
                attacker.publish(_topic(context, "glory-hole"), "attacker's own")
                pipeline.wait_for(lambda m: m.text == "attacker's own", TIMEOUT_S)
                stays_true(victim.client.is_connected, SETTLE_S, "the victim stays connected")
            finally:
                attacker.close()
            victim.publish(_topic(context, "furnace-1"), "still here")
            pipeline.wait_for(lambda m: m.text == "still here", TIMEOUT_S)
        finally:
            victim.close()


def test_hash_made_by_mosquitto_passwd_is_kept(tmp_path: Path, context: RenderContext) -> None:
    """A password file written by the real tool counts as previous: its hashes stay."""
    passwd = tmp_path / "passwd"
    passwd.touch(mode=0o600)
    logins = [*DEVICE_PASSWORDS.items()]
    logins += [_login(context, c.user) for c in mqtt_accounts.consumers(context.site)]
    for user, password in logins:
        subprocess.run(
            [str(require_tool("mosquitto_passwd")), "-b", str(passwd), user, password],
            check=True,
        )
    previous = {mosquitto.PASSWD_PATH: passwd.read_text()}
    files = mosquitto.render(RenderContext(context.site, context.secrets, previous))
    rendered = next(f for f in files if f.path == mosquitto.PASSWD_PATH)
    assert rendered.text == passwd.read_text()
