"""
`sensor_protocol.limits`
================================================================================
Sizes both sides rely on. Vector's MQTT source drops packets over 10 KiB by default,
so the device stays well under that; the host's broker and pipeline allow a margin.
"""

MAX_PAYLOAD_BYTES = 4096
"""Largest payload the device may publish (topic excluded)."""

MAX_BATCH_READINGS = 24
"""Most readings one ``backfill`` payload may carry."""

MAX_ID_LENGTH = 32
"""Longest studio or device id."""

MAX_TEXT_LENGTH = 120
"""Longest free-text value (errors, reasons) in a status or health payload."""

PIPELINE_MAX_PACKET_BYTES = 8192
"""What the host's MQTT consumer accepts: twice the device limit, under Vector's 10 KiB."""
