"""The device's part of the contract (sensor_protocol.wire): what it encodes is what the host's
table describes, and the device's modules reach none of the host's tables or decoders."""

import json
import subprocess
import sys

from hypothesis import given

from sensor_protocol import wire
from sensor_protocol.fields import READING_KEYS
from sensor_protocol.limits import MAX_BATCH_READINGS
from sensor_protocol.payloads import decode_readings
from tests.unit.device.subset_rules import FIRMWARE
from tests.unit.protocol.strategies import reading_rows, row

DEVICE_MODULES = (
    "sensor_node.clock",
    "sensor_node.flame",
    "sensor_node.health",
    "sensor_node.node",
    "sensor_node.ring_buffer",
    "sensor_node.thermocouple",
)
"""The firmware modules that use the contract and are written against wire (app and link
import it through their own lines)."""


@given(row=reading_rows)
def test_a_reading_is_the_text_json_writes_for_it(row):
    # The template saves a dict per reading on the device; on CPython it writes what
    # json.dumps of that dict writes, key order included.
    reading = dict(zip(READING_KEYS, row, strict=True))

    assert wire.encode_reading(row) == json.dumps(reading)


def test_rows_are_read_one_at_a_time_and_no_further_than_a_batch():
    taken = []

    def rows():
        for seq in range(100):
            taken.append(seq)
            yield row(seq=seq, up_ms=1000 + seq, t=None)

    payload, count = wire.encode_readings(1, 2000, rows())

    assert count == MAX_BATCH_READINGS
    assert len(taken) == MAX_BATCH_READINGS + 1
    assert [r["seq"] for r in decode_readings(payload)["readings"]] == list(range(count))


def test_the_device_modules_load_no_host_table_or_decoder():
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(FIRMWARE / 'lib')!r})\n"
        f"for name in {DEVICE_MODULES!r}:\n"
        "    __import__(name)\n"
        "print(sorted(n for n in sys.modules if n.startswith('sensor_protocol')))\n"
    )

    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert "sensor_protocol.fields" not in loaded
    assert "sensor_protocol.payloads" not in loaded
    assert "sensor_protocol.wire" in loaded
