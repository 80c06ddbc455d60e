"""
`sensor_protocol`
================================================================================
The contract between the sensor node and the host: topics, payloads, the field table
and the limits. The device and the host both import this one copy.

Runs unchanged on CircuitPython 9/10, MicroPython and CPython 3.11+: no runtime
``typing``, ``enum`` or ``dataclasses``, ``typing`` only inside ``try``.

* ``sensor_protocol.topics``: build and parse ``{root}/{studio}/{device}/{channel}``.
* ``sensor_protocol.wire``: what the device runs: fault bits, valid ranges, the encoders.
* ``sensor_protocol.fields``: the field table (key, type, unit, valid range, precision, the
  version that added it, metric name).
* ``sensor_protocol.payloads``: the encoders and the validating decoders, ``PayloadError``.
* ``sensor_protocol.limits``: payload and batch limits.

The device imports ``wire``, ``topics`` and ``limits`` only; ``fields`` and ``payloads``
are the host's (their tables and checks would cost a Pico W about 13 kB of RAM).

Versions are ``major.minor``, so that a fleet updated one board at a time loses nothing:

* A minor version only adds fields, and every field it adds is optional (its ``since`` in the
  field table is that minor): a payload without it is still whole.
* Anything else (a field removed, renamed, retyped, narrowed or made required; a new payload
  shape) is a new major version.
* A host decodes every minor of its own major. An older minor lacks only fields it never had,
  so nothing of it is lost. A newer minor's fields that the host does not know yet are
  dropped unchecked (they are optional by the rule above) and everything else of the payload
  is stored; unknown keys are refused only at the host's own minor or an older one, where
  they are mistakes. Another major is refused whole (``bad_version``).
* What a host accepts of a well-formed payload is its own policy, not the contract's: a
  reading whose clock lies outside the delivery window, or that has no clock (``t`` null, as
  firmware of 1.0 and 1.1 sent before its first NTP sync), cannot be placed in time and is a
  dead letter (counted, its start kept), at any minor.
* So update the host first, then the boards; a board that runs ahead of its host loses only
  its new fields until the host catches up.
* ``tests/fixtures/contract/<major>.<minor>/`` keeps the payloads of every release; the tests
  decode each of them on the current host, in Python and in the pipeline's VRL, and hold the
  current release's to what the firmware sends (``python -m tests.support.releases`` writes a
  new release's).
"""

SCHEMA_VERSION = 1
"""The major version, stamped into every payload as ``"v"``. A host refuses any other."""

SCHEMA_MINOR = 1
"""The minor version, stamped as ``"minor"`` into every payload but the last will (a fixed
text with nothing to evolve). Release 1.0 sent none: a payload without it is minor 0."""
