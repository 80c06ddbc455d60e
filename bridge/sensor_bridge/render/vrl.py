"""The pipeline's VRL program, generated from the contract's field table.

``decode_program(site)`` turns one event of Vector's ``mqtt`` source (``.message``: the payload
bytes, ``.topic``, ``.timestamp``: when it was received) into either

* metric-shaped log events, one per sample, for ``log_to_metric`` with ``all_metrics``:
  ``{"name", "kind": "absolute", "gauge"|"counter": {"value"}, "tags", "timestamp", "channel"}``
  (the name without the ``furnace`` namespace, which the sink adds), or
* exactly one dead-letter event ``{"reason", "topic", "payload", "timestamp", "studio",
  "device", "channel"}`` when anything about the message is wrong.

A dead letter's ``reason`` is label-safe: a fixed word or a path from the field table, never text
from the payload. ``bad_topic``, ``unknown_device``, ``too_large``, ``not_utf8``, ``not_json``,
``not_object``, ``bad_version``, or ``field:<path>:<problem>`` with a path such as ``boot``,
``readings``, ``readings[0]`` or ``readings[3].temp_c`` and a problem out of ``missing``,
``null``, ``wrong_type``, ``out_of_range``, ``unknown_key``, and the host rules beyond the payload
schema (``payloads.HOST_PROBLEMS``): ``after_sent`` (``up_ms`` later than ``sent_up_ms``),
``no_clock`` (``t`` null), ``in_future`` and ``too_old`` (the device's clock at sending too far
from the event's timestamp, ``payloads.check_time``).

Field names, types, ranges, metric names and fault bits all come from ``sensor_protocol``;
re-rendering picks up any change to the table. Versions follow the contract's rule
(``sensor_protocol``'s docstring), as its decoders do: every minor of the major is decoded, a
field a later minor added may be absent, and in a payload of a newer minor than the
contract's the keys the program does not know are left out instead of dead-lettering it.

The program must compile in every VRL it meets: vrl-python's (VRL about 0.28) in the tests and
the local forwarder, and Vector 0.57's (0.33.1, typed by the mqtt source's schema, where
``.message`` is known to be bytes). VRL rejects handling an error that cannot happen (E651,
E104, E620), so an expression whose fallibility depends on the VRL version or on the event's
schema would compile in one and not the other. Hence the rules this generator keeps:

* every event field is read with ``get(., [...])``, which is ``any`` and fallible in every VRL,
  then converted with ``string(...) ?? ""`` and the like;
* no ``!`` and no ``abort``: the program cannot fail at run time, so every message ends as
  metrics or as one dead letter, never silently dropped;
* arithmetic is integer ``+``, ``-`` and comparison only (fault bits are peeled off by
  subtraction), whose typing no VRL version has changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sensor_bridge.alerting import durations
from sensor_bridge.site import Site
from sensor_protocol import SCHEMA_MINOR, SCHEMA_VERSION, fields, payloads, topics
from sensor_protocol.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES

DEAD_LETTER_METRIC = "pipeline_dead_letters_total"
"""Counter of dead letters by ``reason`` (stored as ``furnace_pipeline_dead_letters_total``)."""

FAULT_TAG = "fault"
"""Label naming the fault bit of a ``flags`` field's 0/1 series."""

DEVICE_LABELS = ("device_name", "location")
"""Enrichment labels from the site, on ``device_online`` only: the data series keep exactly
``studio`` and ``device`` so that renaming a device never splits its history."""

DEAD_LETTER_TOPIC_CHARS = 120
DEAD_LETTER_PAYLOAD_CHARS = 1024
"""What a dead letter keeps of the topic and payload, which bounds its size."""

TOP_LEVEL = "payload"
"""The ``where`` of a problem with the payload object itself, as PayloadError names it."""


# Fields with a role beyond their table entry (the time rule of payloads.check_time,
# the version, the status): checked against the table so that renaming one fails loudly
# instead of producing a program that no longer matches the contract.
def _known(key: str, table: Sequence[Any]) -> str:
    if key not in {field.key for field in table}:
        raise KeyError(
            f"the contract has no field {key!r} any more: update sensor_bridge.render.vrl"
        )
    return key


UPTIME = _known("up_ms", fields.READING_FIELDS)
CLOCK = _known("t", fields.READING_FIELDS)
SENT_UPTIME = _known("sent_up_ms", fields.ENVELOPE_FIELDS)
VERSION = _known("v", fields.ENVELOPE_FIELDS)
MINOR = _known("minor", fields.ENVELOPE_FIELDS)
STATE = _known("state", fields.STATUS_FIELDS)
DEVICE_ONLINE, DEVICE_UNEXPECTED_RESET = fields.CONTRACT_METRICS
_ONLINE, _OFFLINE = fields.STATUS_STATES


def _batch_key() -> str:
    """The key holding a telemetry or backfill payload's readings, as the encoder writes it."""
    # No row: a reading that does not fit the encoder's template yet (a field being added)
    # must fail in the layout test, which says what to write, not at every host import.
    text, _ = payloads.encode_readings(0, 0, [])
    (key,) = set(json.loads(text)) - {f.key for f in fields.ENVELOPE_FIELDS}
    return key


READINGS = _batch_key()


def vrl_string(text: str) -> str:
    """A VRL string literal of ``text``: escapes quotes, backslashes, control characters the
    lexer knows, and ``{`` (VRL expands ``{{ name }}`` inside strings)."""
    escapes = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
    escapes["{"] = "\\{"
    return '"' + "".join(escapes.get(char, char) for char in text) + '"'


def vrl_literal(value: Any) -> str:
    """``value`` (None, bool, int, float, str, datetime, list, dict) as a VRL literal."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(vrl_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (vrl_string(key) + ": " + vrl_literal(item) for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    return _scalar_literal(value)


def _scalar_literal(value: Any) -> str:
    if isinstance(value, str):
        return vrl_string(value)
    if isinstance(value, datetime):
        return "t'" + value.isoformat(timespec="milliseconds").replace("+00:00", "Z") + "'"
    if isinstance(value, float):
        # Positional notation: VRL has no exponent syntax.
        text = format(Decimal(repr(value)), "f")
        return text if "." in text else text + ".0"
    if value is None or isinstance(value, (bool, int)):
        return json.dumps(value)
    raise TypeError(f"no VRL literal for {type(value).__name__}")


class _Code:
    """Lines of VRL with block indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._depth = 0

    def add(self, *lines: str) -> None:
        self.lines.extend("  " * self._depth + line for line in lines)

    def block(self, head: str) -> _Block:
        return _Block(self, head)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class _Block:
    def __init__(self, code: _Code, head: str) -> None:
        self._code = code
        self._head = head

    def __enter__(self) -> None:
        if self._head.startswith("else"):
            # VRL wants `} else ... {` on one line.
            closing = self._code.lines.pop()
            self._code.lines.append(f"{closing} {self._head} {{")
        else:
            self._code.add(self._head + " {")
        self._code._depth += 1

    def __exit__(self, *exc: object) -> None:
        self._code._depth -= 1
        self._code.add("}")


def _reason(where: str, problem: str) -> str:
    """VRL expression of a field reason; ``where`` is a VRL string expression."""
    return f'"field:" + {where} + ":{problem}"'


def _join(where: str, key: str) -> str:
    """VRL expression of the path ``where`` + key (``where`` empty at the top level)."""
    if where == '""':
        return vrl_string(key)
    return f"{where} + {vrl_string('.' + key)}"


def _type_test(field: Any) -> str:
    return {
        "int": "is_integer(value)",
        "float": "is_integer(value) || is_float(value)",
        "bool": "is_boolean(value)",
        "str": "is_string(value)",
    }[field.type]


def _range_test(field: Any) -> str | None:
    """VRL condition that is true when a value of the right type is out of range."""
    if field.type == "bool":
        return None
    lo, hi = vrl_literal(field.lo), vrl_literal(field.hi)
    number = {
        "int": "(int(value) ?? 0)",
        "float": "(to_float(value) ?? 0.0)",
        "str": 'strlen(string(value) ?? "")',
    }[field.type]
    return f"{number} < {lo} || {number} > {hi}"


def _check_object(
    code: _Code, var: str, table: Sequence[Any], where: str, extra: Sequence[str]
) -> None:
    """Unknown keys, then each field of ``table`` in order, as payloads._check_object does.

    ``where`` is a VRL string expression naming the object (``"payload"`` at the top level).
    """
    known = [*extra, *(f.key for f in table)]
    # A newer minor's own fields are unknown here and optional: not a dead letter.
    with code.block('if reason == "" && !newer'):
        code.add("unknown = false")
        with code.block(f"for_each(keys({var})) -> |_index, key|"):
            with code.block(f"if !includes({vrl_literal(known)}, key)"):
                code.add("unknown = true")
        with code.block("if unknown"):
            code.add(f"reason = {_reason(where, 'unknown_key')}")
    prefix = '""' if where == vrl_string(TOP_LEVEL) else where
    for field in table:
        _check_field(code, var, field, prefix)


def _check_field(code: _Code, var: str, field: Any, where: str) -> None:
    path = _join(where, field.key)
    key = vrl_string(field.key)
    present = f"includes(keys({var}), {key})"
    guard = "value != null && " if field.nullable else ""
    problems = [] if field.since else [(f"!{present}", "missing")]
    if not field.nullable:
        problems.append(("value == null", "null"))
    problems.append((f"{guard}!({_type_test(field)})", "wrong_type"))
    out_of_range = _range_test(field)
    if out_of_range is not None:
        problems.append((f"{guard}({out_of_range})", "out_of_range"))
    # A field a later minor added is optional: absent, there is nothing to check.
    with code.block('if reason == ""' if not field.since else f'if reason == "" && {present}'):
        code.add(f"value = get({var}, [{key}]) ?? null")
        for index, (condition, problem) in enumerate(problems):
            code.add(f"{'} else if' if index else 'if'} {condition} {{")
            code.add(f"  reason = {_reason(path, problem)}")
        code.add("}")


def _emit(code: _Code, field: Any, var: str, tags: str, timestamp: str) -> None:
    """Push the metric event(s) of one field of object ``var``."""
    code.add(f"value = get({var}, [{vrl_string(field.key)}]) ?? null")
    if field.nullable or field.since:
        # A null sample (a faulted temperature, no Wi-Fi) or an absent one is a gap, not a zero.
        with code.block("if value != null"):
            _push(code, field, tags, timestamp)
    else:
        _push(code, field, tags, timestamp)


def _push(code: _Code, field: Any, tags: str, timestamp: str) -> None:
    if field.kind == "flags":
        _emit_flags(code, field, tags, timestamp)
        return
    value = '{"value": to_float(value) ?? 0.0}'
    code.add(
        f'metrics = push(metrics, {{"name": {vrl_string(field.metric)}, "kind": "absolute", '
        f'{vrl_string(field.kind)}: {value}, "tags": {tags}, "timestamp": {timestamp}, '
        '"channel": channel})'
    )


def _emit_flags(code: _Code, field: Any, tags: str, timestamp: str) -> None:
    """One 0/1 gauge per FAULT_BITS entry; bits are peeled off from the highest down."""
    bits = [bit for _, bit in fields.FAULT_BITS]
    if sorted(bits) != bits or any(bit & (bit - 1) for bit in bits) or len(set(bits)) != len(bits):
        raise ValueError("FAULT_BITS must be distinct single bits in ascending order")
    code.add("rest = int(value) ?? 0")
    for index in reversed(range(len(bits))):
        code.add(f"flag_{index} = 0.0")
        with code.block(f"if rest >= {bits[index]}"):
            code.add(f"flag_{index} = 1.0", f"rest = rest - {bits[index]}")
    for index, (name, _) in enumerate(fields.FAULT_BITS):
        flag_tags = f"merge({tags}, {{{vrl_string(FAULT_TAG)}: {vrl_string(name)}}})"
        code.add(
            f'metrics = push(metrics, {{"name": {vrl_string(field.metric)}, "kind": "absolute", '
            f'"gauge": {{"value": flag_{index}}}, "tags": {flag_tags}, '
            f'"timestamp": {timestamp}, "channel": channel}})'
        )


def _device_labels(site: Site) -> dict[str, dict[str, str]]:
    labels = {}
    for device in site.devices:
        values = dict(zip(DEVICE_LABELS, (device.name, device.location), strict=True))
        labels[device.id] = {label: value for label, value in values.items() if value}
    return labels


def _topic(code: _Code, site: Site) -> None:
    """``bad_topic`` unless root/studio/device/channel match the site and the contract."""
    root, studio = vrl_string(site.topic_root), vrl_string(site.studio)
    code.add('levels = split(topic, "/")')
    bad = (
        f"length(levels) != 4 || (get(levels, [0]) ?? null) != {root} || "
        f"(get(levels, [1]) ?? null) != {studio} || "
        f"!includes({vrl_literal(topics.CHANNELS)}, get(levels, [3]) ?? null)"
    )
    with code.block(f"if {bad}"):
        code.add('reason = "bad_topic"')
    with code.block("else"):
        code.add('device = string(get(levels, [2]) ?? null) ?? ""')
        code.add('channel = string(get(levels, [3]) ?? null) ?? ""')
        with code.block("if !includes(keys(devices), device)"):
            code.add('reason = "unknown_device"', 'device = ""')


def _payload(code: _Code) -> None:
    """Size, encoding, JSON object and schema version, in payloads._parse's order."""
    with code.block(f'if reason == "" && length(payload) > {MAX_PAYLOAD_BYTES}'):
        code.add('reason = "too_large"')
    # replace() decodes its input lossily, so it changes only bytes that are not UTF-8.
    with code.block('if reason == "" && replace(payload, "x", "x") != payload'):
        code.add('reason = "not_utf8"')
    code.add("body = {}")
    with code.block('if reason == ""'):
        code.add("parsed, error = parse_json(payload)")
        with code.block("if error != null"):
            code.add('reason = "not_json"')
        with code.block("else if !is_object(parsed)"):
            code.add('reason = "not_object"')
        with code.block("else"):
            code.add("body = object(parsed) ?? {}")
    version = vrl_string(VERSION)
    with code.block('if reason == ""'):
        code.add(f"version = get(body, [{version}]) ?? null")
        with code.block(f"if !is_integer(version) || version != {SCHEMA_VERSION}"):
            code.add('reason = "bad_version"')
    # As payloads._newer_minor: a wrong minor is checked (and named) with the envelope.
    code.add(f"minor = get(body, [{vrl_string(MINOR)}]) ?? null")
    code.add(f"newer = is_integer(minor) && (int(minor) ?? 0) > {SCHEMA_MINOR}")


def _readings(code: _Code, max_delay_ms: int) -> None:
    batch = vrl_string(READINGS)
    with code.block(f'if reason == "" && includes({vrl_literal(_reading_channels())}, channel)'):
        _check_object(code, "body", fields.ENVELOPE_FIELDS, vrl_string(TOP_LEVEL), (READINGS,))
        with code.block('if reason == ""'):
            code.add(f"value = get(body, [{batch}]) ?? null")
            code.add("count = length(array(value) ?? [])")
            code.add(f"if !includes(keys(body), {batch}) {{")
            code.add(f"  reason = {_reason(batch, 'missing')}")
            code.add("} else if !is_array(value) {")
            code.add(f"  reason = {_reason(batch, 'wrong_type')}")
            code.add(f"}} else if count < 1 || count > {MAX_BATCH_READINGS} {{")
            code.add(f"  reason = {_reason(batch, 'out_of_range')}")
            code.add("}")
        with code.block('if reason == ""'):
            sent = vrl_string(SENT_UPTIME)
            code.add(f"sent_up_ms = int(get(body, [{sent}]) ?? null) ?? 0")
            with code.block(
                f"for_each(array(get(body, [{batch}]) ?? null) ?? []) -> |index, item|"
            ):
                _reading(code, max_delay_ms)


def _reading_channels() -> tuple[str, str]:
    return (topics.TELEMETRY, topics.BACKFILL)


def _reading(code: _Code, max_delay_ms: int) -> None:
    where = f'{vrl_string(READINGS + "[")} + to_string(index) + "]"'
    with code.block('if reason == "" && !is_object(item)'):
        code.add(f"reason = {_reason(where, 'wrong_type')}")
    code.add("reading = object(item) ?? {}")
    _check_object(code, "reading", fields.READING_FIELDS, where, ())
    uptime, time = _join(where, UPTIME), _join(where, CLOCK)
    code.add(f"up_ms = int(get(reading, [{vrl_string(UPTIME)}]) ?? null) ?? 0")
    code.add(f"clock = get(reading, [{vrl_string(CLOCK)}]) ?? null")
    code.add("sample_ms = int(clock) ?? 0")
    with code.block('if reason == ""'):
        # The host rules beyond the payload schema, in payloads.decode_readings' order.
        with code.block("if up_ms > sent_up_ms"):
            code.add(f"reason = {_reason(uptime, payloads.AFTER_SENT)}")
        with code.block("else if clock == null"):
            code.add(f"reason = {_reason(time, payloads.NO_CLOCK)}")
        with code.block(
            f"else if sample_ms + sent_up_ms - up_ms > received_ms + {payloads.FUTURE_MARGIN_MS}"
        ):
            code.add(f"reason = {_reason(time, payloads.IN_FUTURE)}")
        with code.block(f"else if sample_ms + sent_up_ms - up_ms < received_ms - {max_delay_ms}"):
            code.add(f"reason = {_reason(time, payloads.TOO_OLD)}")
    with code.block('if reason == ""'):
        code.add('sampled = from_unix_timestamp(sample_ms, unit: "milliseconds") ?? received')
        for field in fields.READING_FIELDS:
            if field.kind is not None:
                _emit(code, field, "reading", "tags", "sampled")


def _health(code: _Code) -> None:
    table = fields.ENVELOPE_FIELDS + fields.HEALTH_FIELDS
    with code.block(f'if reason == "" && channel == {vrl_string(topics.HEALTH)}'):
        _check_object(code, "body", table, vrl_string(TOP_LEVEL), ())
        with code.block('if reason == ""'):
            for field in fields.HEALTH_FIELDS:
                if field.kind is not None:
                    _emit(code, field, "body", "tags", "received")


def _status(code: _Code) -> None:
    # As payloads.decode_status: the bare last will, or a birth message with its envelope.
    table = fields.STATUS_FIELDS + fields.STATUS_ENVELOPE_FIELDS
    state = vrl_string(STATE)
    with code.block(f'if reason == "" && channel == {vrl_string(topics.STATUS)}'):
        code.add(f"state = get(body, [{state}]) ?? null")
        with code.block(f"if length(keys(body)) != 2 || state != {vrl_string(_OFFLINE)}"):
            _check_object(code, "body", table, vrl_string(TOP_LEVEL), ())
            states = vrl_literal(fields.STATUS_STATES)
            with code.block(f'if reason == "" && !includes({states}, state)'):
                code.add(f"reason = {_reason(state, 'out_of_range')}")
        with code.block('if reason == ""'):
            code.add("online = 0.0")
            with code.block(f"if state == {vrl_string(_ONLINE)}"):
                code.add("online = 1.0")
            code.add("labels = merge(tags, object(get(devices, [device]) ?? null) ?? {})")
            code.add(
                f'metrics = push(metrics, {{"name": {vrl_string(DEVICE_ONLINE)}, '
                '"kind": "absolute", "gauge": {"value": online}, "tags": labels, '
                '"timestamp": received, "channel": channel})'
            )
            _emit_unexpected_reset(code)


def _emit_unexpected_reset(code: _Code) -> None:
    """On a birth message: 1 when the boot was unplanned (fields.unexpected_reset), else 0."""
    reasons = vrl_literal(fields.UNEXPECTED_RESET_REASONS)
    reset_reason, safe_mode, cause = (
        vrl_string(_known(key, fields.STATUS_FIELDS))
        for key in ("reset_reason", "safe_mode_reason", "reset_cause")
    )
    with code.block(f"if state == {vrl_string(_ONLINE)}"):
        code.add(
            f"unplanned = includes({reasons}, get(body, [{reset_reason}]) ?? null) || "
            f"(get(body, [{safe_mode}]) ?? null) != null || (get(body, [{cause}]) ?? null) != null"
        )
        code.add("unexpected = 0.0")
        with code.block("if unplanned"):
            code.add("unexpected = 1.0")
        code.add(
            f'metrics = push(metrics, {{"name": {vrl_string(DEVICE_UNEXPECTED_RESET)}, '
            '"kind": "absolute", "gauge": {"value": unexpected}, "tags": tags, '
            '"timestamp": received, "channel": channel})'
        )


def max_delay_ms(site: Site) -> int:
    """The site's ``pipeline.max_delivery_delay`` in ms, as ``payloads.check_time`` takes it."""
    return round(durations.seconds(site.pipeline.max_delivery_delay) * 1000)


def decode_program(site: Site) -> str:
    """The remap program of the ``decode`` transform, for ``site``'s studio and devices."""
    code = _Code()
    code.add(
        "# Generated by sensor-bridge render from sensor_protocol's field table: do not edit.",
        "# One MQTT message in; metric-shaped events or exactly one dead letter out.",
        'received = get(., ["timestamp"]) ?? null',
    )
    with code.block("if !is_timestamp(received)"):
        # A `vector test` log input carries the receive time as RFC 3339 text.
        code.add('received = parse_timestamp(string(received) ?? "", "%+") ?? now()')
    code.add(
        'received_ms = to_unix_timestamp(received, unit: "milliseconds") ?? 0',
        'topic = string(get(., ["topic"]) ?? null) ?? ""',
        'payload = string(get(., ["message"]) ?? null) ?? ""',
        f"devices = {vrl_literal(_device_labels(site))}",
        f"studio = {vrl_string(site.studio)}",
        'device = ""',
        'channel = ""',
        'reason = ""',
        "metrics = []",
    )
    _topic(code, site)
    code.add('tags = {"studio": studio, "device": device}')
    _payload(code)
    _readings(code, max_delay_ms(site))
    _health(code)
    _status(code)
    with code.block('if reason == ""'):
        code.add(". = metrics")
    with code.block("else"):
        code.add(
            '. = [{"reason": reason, '
            f'"topic": truncate(topic, {DEAD_LETTER_TOPIC_CHARS}), '
            f'"payload": truncate(payload, {DEAD_LETTER_PAYLOAD_CHARS}), '
            '"timestamp": received, "studio": studio, "device": device, "channel": channel}]'
        )
    return code.text()
