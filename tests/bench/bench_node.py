"""Sensor-node benchmark: prints figures, asserts nothing. Run: ``hatch run bench-node``.

* longest loop iteration (gap between watchdog feeds, on the board's clock) in steady state
  and under each network fault, on a Pico W (8 s watchdog);
* bytes allocated per loop iteration in steady state (tracemalloc, per watchdog feed);
* bytes per reading on the wire, telemetry and backfill (payload, and with topic and MQTT
  framing);
* store-and-forward capacity in readings per KB of RAM.

The firmware is the real bundle on the virtual board, against a real Mosquitto.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_node.ring_buffer import ReadingBuffer
from sensor_protocol.payloads import decode_readings
from tests.support.netfaults import FAULTS
from tests.support.node import DEVICE, PICO_W, make_drive, topic
from tests.support.recorder import Recorder

SPEED = 10


def mqtt_publish_bytes(topic_name: str, payload: bytes) -> int:
    """A QoS 1 PUBLISH on the wire: fixed header, topic, packet id, payload (+ PUBACK)."""
    remaining = 2 + len(topic_name.encode()) + 2 + len(payload)
    length_bytes = 1 if remaining < 128 else 2 if remaining < 16384 else 3
    return 1 + length_bytes + remaining + 4


def longest_iterations(workdir: Path, fault_s: float) -> list[tuple[str, float, float]]:
    rows = []
    for name in ["steady", *FAULTS, "rejected login"]:
        run = workdir / name.replace(" ", "-")
        (run / "broker").mkdir(parents=True)
        users = {DEVICE: "right"} if name == "rejected login" else None
        with Mosquitto(run / "broker", users=users) as broker:
            login = {"MQTT_USER": DEVICE, "MQTT_PASSWORD": "wrong" if users else "right"}
            drive = make_drive(run / "drive", PICO_W, broker.port, SAMPLE_PERIOD_S=1, **login)
            with VirtualBoardProcess(drive, speed=SPEED, watchdog="fail") as board:
                board.wait_for(r" INFO (birth_published|boot) ", 30)
                if name in FAULTS:
                    board.wait_for(r" INFO birth_published ", 30)
                    FAULTS[name](board, broker, fault_s)
                else:
                    time.sleep(fault_s / SPEED)
                status = board.status()
            rows.append((name, status["watchdog"]["max_gap_s"], status["watchdog"]["timeout"]))
            print(f"  {name:16} longest iteration {rows[-1][1]:6.3f} s (budget {rows[-1][2]} s)")
    return rows


def allocations(workdir: Path, seconds: float) -> dict[str, Any]:
    (workdir / "alloc" / "broker").mkdir(parents=True)
    with Mosquitto(workdir / "alloc" / "broker") as broker:
        drive = make_drive(workdir / "alloc" / "drive", PICO_W, broker.port)
        with VirtualBoardProcess(
            drive, speed=2, extra_args=["--trace-allocations"], watchdog="reset"
        ) as board:
            board.wait_for(r" INFO birth_published ", 60)
            time.sleep(seconds / 2)
            summary: dict[str, Any] = board.status()["allocations"]
    return summary


def wire_sizes(workdir: Path, outage_s: float) -> dict[str, float]:
    (workdir / "wire" / "broker").mkdir(parents=True)
    with Mosquitto(workdir / "wire" / "broker") as broker:
        drive = make_drive(workdir / "wire" / "drive", PICO_W, broker.port, SAMPLE_PERIOD_S=5)
        with (
            Recorder(broker.port, [topic("+")], clean_session=False) as recorder,
            VirtualBoardProcess(drive, speed=30) as board,
        ):
            recorder.wait_for(lambda m: m.topic == topic("telemetry"), 30)
            broker.stop()
            time.sleep(outage_s / 30)
            broker.start()
            board.wait_for(r" INFO backfill_done ", 60)
            # Live telemetry after the backlog: the recorder has everything before it.
            recorder.wait_for(
                lambda m: m.topic == topic("telemetry"), 30, after=len(recorder.messages)
            )
    tel = recorder.on("/telemetry$")
    back = recorder.on("/backfill$")
    back_readings = sum(len(decode_readings(m.payload)["readings"]) for m in back)
    return {
        "telemetry_payload": sum(len(m.payload) for m in tel) / len(tel),
        "telemetry_wire": sum(mqtt_publish_bytes(m.topic, m.payload) for m in tel) / len(tel),
        "backfill_payload": sum(len(m.payload) for m in back) / back_readings,
        "backfill_wire": sum(mqtt_publish_bytes(m.topic, m.payload) for m in back) / back_readings,
        "backfill_batches": len(back),
        "backfill_readings": back_readings,
    }


def buffer_density(capacity: int = 1000) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    buffer = ReadingBuffer(capacity)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del buffer
    return used / capacity


def main() -> int:
    parser = argparse.ArgumentParser(prog="hatch run bench-node", description=__doc__)
    parser.add_argument("--fault-seconds", type=float, default=120, help="virtual s per fault")
    parser.add_argument("--alloc-seconds", type=float, default=120, help="virtual s traced")
    parser.add_argument("--outage-seconds", type=float, default=600, help="virtual s offline")
    args = parser.parse_args()
    print(
        f"sensor-node benchmark on {platform.node()} ({platform.machine()}), "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print(f"longest loop iteration, Pico W, speed {SPEED}x, {args.fault_seconds:g} s each:")
        longest_iterations(workdir, args.fault_seconds)
        alloc = allocations(workdir, args.alloc_seconds)
        print("allocations per loop iteration (steady state, tracemalloc, CPython objects):")
        print(
            f"  iterations counted {alloc['counted']}, transient mean "
            f"{alloc['transient_mean_bytes']} B, p95 {alloc['transient_p95_bytes']} B, "
            f"max {alloc['transient_max_bytes']} B, net {alloc['net_bytes_per_iteration']} B"
        )
        wire = wire_sizes(workdir, args.outage_seconds)
        print("bytes per reading on the wire:")
        print(
            f"  telemetry: payload {wire['telemetry_payload']:.0f} B, "
            f"with topic and MQTT framing {wire['telemetry_wire']:.0f} B"
        )
        print(
            f"  backfill:  payload {wire['backfill_payload']:.0f} B, with framing "
            f"{wire['backfill_wire']:.0f} B ({wire['backfill_readings']} readings in "
            f"{wire['backfill_batches']} batches)"
        )
    per_reading = buffer_density()
    print(f"buffer: {per_reading:.1f} B per reading -> {1024 / per_reading:.1f} readings per KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
