"""
`sensor_protocol`
================================================================================
The contract between the sensor node and the host: topics, payloads, the field table
and the limits. The device and the host both import this one copy.

Runs unchanged on CircuitPython 9/10, MicroPython and CPython 3.11+: no runtime
``typing``, ``enum`` or ``dataclasses``, ``typing`` only inside ``try``.

* ``sensor_protocol.topics``: build and parse ``{root}/{studio}/{device}/{channel}``.
* ``sensor_protocol.wire``: what the device runs: fault bits, valid ranges, the encoders.
* ``sensor_protocol.fields``: the field table (key, unit, valid range, metric name).
* ``sensor_protocol.payloads``: the encoders and the validating decoders, ``PayloadError``.
* ``sensor_protocol.limits``: payload and batch limits.

The device imports ``wire``, ``topics`` and ``limits`` only; ``fields`` and ``payloads``
are the host's (their tables and checks would cost a Pico W about 13 kB of RAM).
"""

SCHEMA_VERSION = 1
"""Stamped into every payload as ``"v"``. A host rejects any other version."""
