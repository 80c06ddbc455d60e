"""The node over TLS on CircuitPython's VM, whose ``ssl`` is CircuitPython's own on mbedTLS
2.28.3 (the release the CPython engine's ``ssl`` emulates): it publishes to a broker whose
certificate ca.pem signed for MQTT_BROKER, and refuses, in one line and without a reset, one
from another CA or for another name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.vm.vm_node import vm_board, vm_drive
from tests.support.node import FEATHER_S3, boots, topic
from tests.support.recorder import Recorder
from tests.support.tls import TlsMosquitto, make_ca, make_server_cert
from tests.support.waiting import stays_true


@pytest.mark.parametrize("broker_cert", ["right", "other ca", "other name"])
def test_the_node_on_the_vm_publishes_only_to_the_broker_its_ca_signed(
    tmp_path: Path, broker_cert: str
) -> None:
    ca = make_ca()
    (tmp_path / "broker").mkdir()
    broker = TlsMosquitto(tmp_path / "broker", ca)
    if broker_cert == "other ca":
        make_server_cert(make_ca("someone else's CA"), "127.0.0.1", broker.workdir / "tls")
    elif broker_cert == "other name":
        make_server_cert(ca, "broker.example", broker.workdir / "tls")
    drive = vm_drive(tmp_path / "drive", FEATHER_S3, broker.tls_port, ca_pem=ca.cert_pem)
    with broker, Recorder(broker.port, [topic("+")]) as recorder:
        with vm_board(drive, FEATHER_S3) as board:
            line = board.wait_for(r" INFO mqtt_connected | WARN mqtt_| ERROR ", 60)
            if broker_cert == "right":
                recorder.wait_for(lambda m: m.channel == "telemetry", 30)
                return
            assert " WARN mqtt_tls_refused " in line, line
            assert "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED" in line and "provision again" in line
            stays_true(lambda: boots(board) == 1, 5, "the node stays in its first boot")
            assert recorder.on("/telemetry$") == []
