"""The node over TLS on the virtual board (CPython engine, its ``ssl`` emulating
CircuitPython's): it verifies the broker against ca.pem for the name MQTT_BROKER, and a broker
it cannot verify gets no login, costs no reset, and loses no reading."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor_bridge.virtual.launcher import VirtualBoardProcess
from tests.support.node import FEATHER_S3, PICO_W, boots, make_drive, readings, topic
from tests.support.recorder import Recorder
from tests.support.tls import Authority, TlsMosquitto, make_ca, make_server_cert
from tests.support.waiting import stays_true


@pytest.fixture
def ca() -> Authority:
    return make_ca()


@pytest.fixture
def tls_broker(tmp_path: Path, ca: Authority) -> Iterator[TlsMosquitto]:
    workdir = tmp_path / "broker"
    workdir.mkdir()
    with TlsMosquitto(workdir, ca) as mosquitto:
        yield mosquitto


@pytest.fixture
def recorder(tls_broker: TlsMosquitto) -> Iterator[Recorder]:
    with Recorder(tls_broker.port, [topic("+")], clean_session=False) as rec:
        yield rec


@pytest.mark.parametrize("board_id", [PICO_W, FEATHER_S3])
def test_the_node_publishes_over_tls(
    tmp_path: Path, board_id: str, ca: Authority, tls_broker: TlsMosquitto, recorder: Recorder
) -> None:
    drive = make_drive(tmp_path / "drive", board_id, tls_broker.tls_port, ca_pem=ca.cert_pem)
    with VirtualBoardProcess(drive, board=board_id) as board:
        line = board.wait_for(r" INFO mqtt_connected | ERROR ", 60)
        assert f"broker=127.0.0.1:{tls_broker.tls_port}" in line, line
        recorder.wait_for(lambda m: m.topic == topic("telemetry"), 30)
    assert "New connection from 127.0.0.1" in tls_broker.log_text()


@pytest.mark.parametrize("wrong", ["ca", "host name"])
def test_a_broker_it_cannot_verify_is_refused_without_reset_and_without_losing_readings(
    tmp_path: Path, wrong: str, ca: Authority, tls_broker: TlsMosquitto, recorder: Recorder
) -> None:
    # The broker shows a certificate from another CA, or one of the right CA for another name.
    if wrong == "ca":
        make_server_cert(make_ca("someone else's CA"), "127.0.0.1", tls_broker.workdir / "tls")
    else:
        make_server_cert(ca, "broker.example", tls_broker.workdir / "tls")
    tls_broker.restart()
    drive = make_drive(
        tmp_path / "drive", PICO_W, tls_broker.tls_port, ca_pem=ca.cert_pem, SAMPLE_PERIOD_S=1
    )
    with VirtualBoardProcess(drive, speed=10) as board:
        refused = board.wait_for(r" WARN mqtt_tls_refused ", 60)
        assert "-9984" in refused and "fix=" in refused and "provision again" in refused
        # A minute (virtual) of refusals: no reset, no radio restart, no login sent.
        stays_true(lambda: boots(board) == 1, 6, "the node stays in its first boot")
        assert not any(" radio_restart " in line for line in board.lines)
        assert recorder.on("/telemetry$") == []
        assert f"as {topic('')[:-1]}" not in tls_broker.log_text(), "no MQTT CONNECT, no login"
        # The right certificate on the broker: everything taken meanwhile arrives.
        make_server_cert(ca, "127.0.0.1", tls_broker.workdir / "tls")
        tls_broker.restart()
        board.wait_for(r" INFO backfill_done ", 60)
        recorder.wait_for(lambda m: m.topic == topic("telemetry"), 30)
        refused = board.lines[board.lines.index(refused)] if refused in board.lines else refused
    print(refused)
    assert f"as {topic('')[:-1]}" in tls_broker.log_text()
    backfill = {reading["seq"] for _, reading in readings(recorder, "backfill")}
    seqs = sorted(backfill | {reading["seq"] for _, reading in readings(recorder, "telemetry")})
    assert len(backfill) >= 50, "a minute of readings at 1 s, taken while refused"
    assert seqs == list(range(seqs[0], seqs[-1] + 1)), "none lost"
