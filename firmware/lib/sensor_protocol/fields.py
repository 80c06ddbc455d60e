"""
`sensor_protocol.fields`
================================================================================
The field table: every value a device publishes, with its type, unit, valid range,
precision, the contract version that added it and its metric name. The host generates its
pipeline program, alert rules and dashboards from these tables, and the device's reading
layout is checked against them; nothing else re-types a field name.

A metric name here is the name inside the ``furnace`` namespace: the pipeline joins them
with ``_``, so ``furnace_temp`` is stored as ``furnace_furnace_temp``, the series name the
studio's history already uses.

Host only: the device never imports this module (its help texts and tuples would cost a
Pico W about 8 kB of RAM). The numbers both sides enforce (ranges, fault bits) are
``sensor_protocol.wire``'s, re-exported here.
"""

from collections import namedtuple

# FAULT_BITS, FAULTS_INVALIDATING_TEMPERATURE and fault_names: the host reads them here,
# with the table they describe.
from sensor_protocol.wire import (
    COLD_JUNCTION_C_MAX,
    COLD_JUNCTION_C_MIN,
    EPOCH_MS_MAX,
    EPOCH_MS_MIN,
    FAULT_BITS,  # noqa: F401
    FAULT_MASK_ALL,
    FAULTS_INVALIDATING_TEMPERATURE,  # noqa: F401
    FLAME_V_MAX,
    FLAME_V_MIN,
    RSSI_DBM_MAX,
    RSSI_DBM_MIN,
    TEMP_C_MAX,
    TEMP_C_MIN,
    fault_names,  # noqa: F401
)

METRIC_NAMESPACE = "furnace"

Field = namedtuple(
    "Field",
    (
        "key",
        "type",
        "unit",
        "lo",
        "hi",
        "decimals",
        "nullable",
        "since",
        "metric",
        "kind",
        "help",
    ),
)
"""One published value.

``type`` is ``"int"``, ``"float"``, ``"bool"`` or ``"str"``; ``lo``/``hi`` bound numbers
(inclusive) and, for ``str``, the length. ``decimals`` is the precision of a reading's
measured value, on the wire and in the device's buffer (None for every other field).
``nullable``: the value may be null. ``since`` is the minor version that added the field: 0
for a field of the major's first release, which every payload must carry; a field a later
minor added is optional (see ``sensor_protocol``: the versioning rule). ``kind`` is
``"gauge"``, ``"counter"``, ``"flags"`` (an int bitmask expanded to one 0/1 series per entry
of ``FAULT_BITS``) or ``None`` for values that are not metrics. ``metric`` is None when
``kind`` is None.
"""

INT32_MAX = 2147483647
UPTIME_MS_MAX = 2**53

# fmt: off
# One field per row reads as the table it is. Columns: key, type, unit, lo, hi, decimals,
# nullable, since, metric, kind, help.

# A reading is its frame (seq, up_ms, t), its measured values, then its faults. A measured
# value is a number or null with its decimals; a new one goes right before ``faults``. The
# device's encoder and buffer treat every measured value alike; their layout constants
# (wire.READING_TEMPLATE; ring_buffer.READING_FORMAT, VALUE_SCALES, BYTES_PER_READING) are
# derived from this table by tests/unit/protocol/test_protocol_layout.py, which prints what
# they must be.
READING_FIELDS = (
    Field("seq", "int", "", 0, INT32_MAX, None, False, 0, "reading_sequence", "gauge",
          "Reading number since boot; with the boot count it identifies a reading."),
    Field("up_ms", "int", "ms", 0, UPTIME_MS_MAX, None, False, 0, None, None,
          "Device uptime when the sample was taken."),
    Field("t", "int", "ms", EPOCH_MS_MIN, EPOCH_MS_MAX, None, True, 0, None, None,
          "Unix time of the sample when the device clock was valid, else null (the host "
          "keeps such a reading as a dead letter: it cannot be placed in time)."),
    Field("temp_c", "float", "celsius", TEMP_C_MIN, TEMP_C_MAX, 2, True, 0, "furnace_temp",
          "gauge",
          "Furnace thermocouple temperature; null when a fault makes it invalid."),
    Field("cj_c", "float", "celsius", COLD_JUNCTION_C_MIN, COLD_JUNCTION_C_MAX, 2, True, 0,
          "cold_junction_celsius", "gauge",
          "Cold-junction (board) temperature of the thermocouple amplifier."),
    Field("flame_v", "float", "volts", FLAME_V_MIN, FLAME_V_MAX, 3, True, 0, "flame_volts",
          "gauge",
          "Flame-rod signal voltage, median of the oversampled ADC."),
    Field("faults", "int", "", 0, FAULT_MASK_ALL, None, False, 0, "thermocouple_fault",
          "flags",
          "Thermocouple fault bits (FAULT_BITS), debounced."),
)

READING_KEYS = tuple(field.key for field in READING_FIELDS)
"""Order of a reading row: ``(seq, up_ms, t, *values, faults)``."""

_VERSION = Field("v", "int", "", 0, 255, None, False, 0, None, None,
                 "Major version of the contract.")
_BOOT = Field("boot", "int", "", 0, INT32_MAX, None, False, 0, None, None,
              "Boot count of the device.")
_MINOR = Field("minor", "int", "", 0, 255, None, False, 1, None, None,
               "Minor version of the contract; absent from 1.0's payloads.")

ENVELOPE_FIELDS = (
    _VERSION,
    _BOOT,
    Field("sent_up_ms", "int", "ms", 0, UPTIME_MS_MAX, None, False, 0, None, None,
          "Device uptime when the payload was published."),
    _MINOR,
)
"""What telemetry, backfill and health payloads carry around their body."""

STATUS_ENVELOPE_FIELDS = (_VERSION, _BOOT, _MINOR)
"""What a birth message carries around STATUS_FIELDS: it is no sample, so no sent_up_ms."""

HEALTH_FIELDS = (
    Field("uptime_s", "int", "seconds", 0, INT32_MAX, None, False, 0, "device_uptime_seconds",
          "gauge", "Seconds since boot."),
    Field("mem_free", "int", "bytes", 0, INT32_MAX, None, False, 0, "device_free_memory_bytes",
          "gauge", "Free heap after a collection (gc.mem_free)."),
    Field("rssi", "int", "dBm", RSSI_DBM_MIN, RSSI_DBM_MAX, None, True, 0,
          "device_wifi_rssi_dbm", "gauge",
          "Wi-Fi signal strength; null while not associated."),
    Field("reconnects", "int", "", 0, INT32_MAX, None, False, 0,
          "device_mqtt_reconnects_total", "counter",
          "Broker connections made since boot, minus the first."),
    Field("radio_restarts", "int", "", 0, INT32_MAX, None, False, 0,
          "device_radio_restarts_total", "counter",
          "Times the socket pool and radio were restarted to recover."),
    Field("last_error", "str", "", 0, 120, None, True, 0, None, None,
          "Most recent network or sensor error, null if none since boot."),
    Field("max_loop_s", "float", "seconds", 0.0, 3600.0, None, False, 0,
          "device_max_loop_seconds", "gauge",
          "Longest main-loop iteration since the previous health report."),
    Field("read_s", "float", "seconds", 0.0, 60.0, None, False, 0,
          "device_sensor_read_seconds", "gauge",
          "Time from starting a thermocouple conversion to its result."),
    Field("tc_faults", "int", "", 0, INT32_MAX, None, False, 0,
          "device_thermocouple_faults_total", "counter",
          "Faulted thermocouple conversions since boot."),
    Field("buffer_depth", "int", "", 0, INT32_MAX, None, False, 0, "device_buffer_readings",
          "gauge", "Readings waiting in the store-and-forward buffer."),
    Field("buffer_capacity", "int", "", 0, INT32_MAX, None, False, 0,
          "device_buffer_capacity_readings", "gauge", "Size of the buffer in readings."),
    Field("buffer_drops", "int", "", 0, INT32_MAX, None, False, 0,
          "device_buffer_dropped_total", "counter",
          "Readings dropped because the buffer was full."),
    Field("clock_valid", "bool", "", 0, 1, None, False, 0, "device_clock_valid", "gauge",
          "1 when the device clock is set from NTP."),
)

STATUS_STATES = ("online", "offline")

STATUS_FIELDS = (
    Field("state", "str", "", 6, 7, None, False, 0, None, None, "online or offline."),
    Field("fw", "str", "", 1, 32, None, True, 0, None, None, "Firmware version."),
    Field("board", "str", "", 1, 64, None, True, 0, None, None, "board.board_id."),
    Field("reset_reason", "str", "", 1, 32, None, True, 0, None, None,
          "microcontroller.cpu.reset_reason at boot."),
    Field("safe_mode_reason", "str", "", 1, 48, None, True, 0, None, None,
          "Safe-mode reason recorded by safemode.py before the last reset, if any."),
    Field("reset_cause", "str", "", 1, 120, None, True, 0, None, None,
          "Why the firmware itself reset the board last time, if it did."),
    Field("sample_period_s", "float", "seconds", 0.5, 60.0, None, True, 0, None, None,
          "Configured sample period."),
)

# fmt: on

CONTRACT_METRICS = ("device_online", "device_unexpected_reset")
"""Metrics the host derives from the retained status: ``device_online`` 1 online, 0 offline;
``device_unexpected_reset`` on each birth, 1 when the boot was not a planned one (see
``unexpected_reset``), else 0."""

UNEXPECTED_RESET_REASONS = ("WATCHDOG", "BROWNOUT", "UNKNOWN")
"""``reset_reason`` values that mean the board crashed or lost power quality."""


def unexpected_reset(status: "dict") -> bool:
    """Whether a birth message reports an unplanned boot: a watchdog, brown-out or unknown
    reset, a safe-mode reason, or a reset the firmware did itself to recover."""
    return (
        status.get("reset_reason") in UNEXPECTED_RESET_REASONS
        or status.get("safe_mode_reason") is not None
        or status.get("reset_cause") is not None
    )


def full_metric_name(field: "Field") -> str:
    """The stored series name of ``field``, e.g. ``furnace_furnace_temp``."""
    return METRIC_NAMESPACE + "_" + field.metric


def field_by_key(key: str) -> "Field":
    """The reading or health field called ``key``."""
    for field in READING_FIELDS + HEALTH_FIELDS:
        if field.key == key:
            return field
    raise KeyError(key)
