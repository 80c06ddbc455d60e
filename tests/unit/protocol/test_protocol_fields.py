"""The field table: the one place field names, units, ranges and metric names are defined."""

import re

import pytest

from sensor_bridge.virtual import max31856 as regs
from sensor_protocol import fields
from sensor_protocol.fields import (
    ENVELOPE_FIELDS,
    FAULT_BITS,
    FAULT_MASK_ALL,
    FAULTS_INVALIDATING_TEMPERATURE,
    HEALTH_FIELDS,
    READING_FIELDS,
    STATUS_FIELDS,
)

ALL_TABLES = {
    "reading": READING_FIELDS,
    "envelope": ENVELOPE_FIELDS,
    "health": HEALTH_FIELDS,
    "status": STATUS_FIELDS,
}
ALL_FIELDS = [field for table in ALL_TABLES.values() for field in table]


def test_the_furnace_temperature_keeps_its_historic_series_name():
    assert fields.full_metric_name(fields.field_by_key("temp_c")) == "furnace_furnace_temp"


@pytest.mark.parametrize("tables", [("reading", "envelope"), ("health", "envelope"), ("status",)])
def test_keys_are_unique_within_a_payload(tables):
    keys = [field.key for name in tables for field in ALL_TABLES[name]]

    assert len(keys) == len(set(keys))


def test_metric_names_are_unique_snake_case_and_carry_their_unit():
    metrics = [field.metric for field in ALL_FIELDS if field.metric is not None]

    assert len(metrics) == len(set(metrics))
    for name in metrics:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
    units = {"celsius": "celsius", "volts": "volts", "seconds": "seconds", "bytes": "bytes"}
    for field in ALL_FIELDS:
        suffix = units.get(field.unit)
        if field.metric is not None and suffix is not None and field.key != "temp_c":
            assert suffix in field.metric, field


@pytest.mark.parametrize("field", ALL_FIELDS, ids=lambda field: field.key)
def test_each_field_is_well_formed(field):
    assert field.type in ("int", "float", "bool", "str")
    assert field.lo <= field.hi
    assert (field.metric is None) == (field.kind is None)
    assert field.kind in (None, "gauge", "counter", "flags")
    assert field.help.strip()
    if field.kind == "counter":
        assert field.metric.endswith("_total")


def test_field_by_key_finds_reading_and_health_fields_only():
    assert fields.field_by_key("flame_v").unit == "volts"
    assert fields.field_by_key("rssi").unit == "dBm"
    with pytest.raises(KeyError):
        fields.field_by_key("state")


def test_fault_bits_are_distinct_and_make_up_the_mask():
    bits = [bit for _, bit in FAULT_BITS]
    combined = 0
    for bit in bits:
        assert bit & (bit - 1) == 0, "one bit per fault"
        assert not combined & bit
        combined |= bit

    assert combined == FAULT_MASK_ALL
    assert FAULTS_INVALIDATING_TEMPERATURE & ~FAULT_MASK_ALL == 0
    assert fields.field_by_key("faults").hi == FAULT_MASK_ALL


def test_fault_bits_are_the_chips_status_register_bits_plus_our_timeout():
    # The MAX31856 datasheet's Fault Status Register (0Fh), D7 to D0: CJ Range, TC Range,
    # CJHIGH, CJLOW, TCHIGH, TCLOW, OVUV, OPEN. The firmware publishes SR as it reads it.
    status_register = {
        "cj_range": 0x80,
        "tc_range": 0x40,
        "cj_high": 0x20,
        "cj_low": 0x10,
        "tc_high": 0x08,
        "tc_low": 0x04,
        "voltage": 0x02,
        "open_tc": 0x01,
    }

    assert dict(FAULT_BITS) == {**status_register, "timeout": 0x100}
    assert regs.FAULT_BITS == status_register, "the emulated chip's"


def test_fault_names_follow_register_order():
    assert fields.fault_names(0) == ()
    assert fields.fault_names(0x100 | 0x01 | 0x40) == ("open_tc", "tc_range", "timeout")
    assert fields.fault_names(FAULT_MASK_ALL) == tuple(name for name, _ in FAULT_BITS)


def test_a_faulted_temperature_covers_the_faults_that_make_it_meaningless():
    invalidating = set(fields.fault_names(FAULTS_INVALIDATING_TEMPERATURE))

    assert invalidating == {"open_tc", "voltage", "tc_range", "cj_range", "timeout"}
