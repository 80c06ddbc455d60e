"""The rendered VRL run in Python: vrl-python (PyPI), whose VRL (about 0.28) is the closest to
Vector 0.57's (0.33.1) that PyPI has. Tests, ``sensor-bridge check`` and the local forwarder run
every program through here.

``Remap(source).run(event)`` is what Vector's ``remap`` emits for one event: what ``.`` holds
once the program ends (an object, or an array of them); ``Condition(source).holds(event)`` is a
``vrl`` condition. Events go in and come out as Python values, with two kinds VRL has and
vrl-python does not carry across:

* bytes (a payload that may not be UTF-8) go in as base64 text that the program's prelude turns
  back into VRL bytes, as Vector's ``mqtt`` source hands them over;
* timestamps go in and come out as aware datetimes: in as RFC 3339 text parsed by the prelude,
  out tagged by an epilogue (vrl-python would give them as display text, which no caller could
  tell from a string).

Only top-level bytes and datetimes are converted: that is where Vector's sources put them.
Programs are compiled once per kind of input (which keys are bytes or timestamps).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sensor_bridge.render.vrl import vrl_string

PACKAGE = "vrl-python"
_TIMESTAMP_TAG = "__vrl_python_timestamp_ns__"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A closure's parameter lives in the program's scope: a name no rendered program uses.
_EPILOGUE = (
    ". = map_values(., recursive: true) -> |vrl_python_value| { "
    "if is_timestamp(vrl_python_value) { "
    f"{{{vrl_string(_TIMESTAMP_TAG)}: to_unix_timestamp("
    "timestamp(vrl_python_value) ?? t'1970-01-01T00:00:00Z', unit: \"nanoseconds\")} "
    "} else { vrl_python_value } }"
)


class VrlError(Exception):
    """The program does not compile, or failed at run time; the message is VRL's diagnostic."""


class VrlAborted(VrlError):
    """The program ran ``abort``: Vector's remap drops the event."""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(PACKAGE)
    except PackageNotFoundError:
        return "?"


class _Program:
    def __init__(self, source: str, epilogue: str) -> None:
        from vrl_python import VRLRuntime

        self._source = source
        self._epilogue = epilogue
        self._runtime = VRLRuntime
        # Compiled now, so that a program that does not compile fails here, not at first use.
        self._compiled: dict[tuple[tuple[str, str], ...], tuple[Any, str]] = {}
        self._program(())

    def _program(self, kinds: tuple[tuple[str, str], ...]) -> tuple[Any, str]:
        if kinds not in self._compiled:
            prelude = [_prelude_line(key, kind) for key, kind in kinds]
            text = "\n".join([*prelude, self._source, self._epilogue])
            runtime = self._runtime()
            try:
                runtime.compile(text)
            except ValueError as error:
                raise VrlError(str(error).strip()) from None
            self._compiled[kinds] = (runtime, text)
        return self._compiled[kinds]

    def _execute(self, event: Mapping[str, Any]) -> Any:
        values, kinds = _into_vrl(event)
        runtime, text = self._program(kinds)
        try:
            return runtime.execute(text, values)
        except RuntimeError as error:
            message = str(error).strip()
            first = message.splitlines()[0] if message else ""
            if first.endswith(": aborted"):
                raise VrlAborted(message) from None
            raise VrlError(message) from None


class Remap(_Program):
    """A ``remap`` program."""

    def __init__(self, source: str) -> None:
        super().__init__(source, _EPILOGUE)

    def run(self, event: Mapping[str, Any]) -> Any:
        """What ``.`` holds after the program: the event(s) Vector would emit."""
        return _from_vrl(self._execute(event).processed_event)


class Condition(_Program):
    """A ``vrl`` condition (a route's, or a unit test's expected output)."""

    def __init__(self, source: str) -> None:
        super().__init__(source, "")

    def holds(self, event: Mapping[str, Any]) -> bool:
        return self._execute(event).runtime_result is True


def _prelude_line(key: str, kind: str) -> str:
    path = "." + vrl_string(key)
    if kind == "bytes":
        return f"{path} = decode_base64!({path})"
    return f'{path} = parse_timestamp!({path}, "%+")'


def _into_vrl(event: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    values: dict[str, Any] = {}
    kinds = []
    for key, value in event.items():
        if isinstance(value, bytes):
            values[key] = base64.b64encode(value).decode()
            kinds.append((key, "bytes"))
        elif isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{key}: a naive datetime has no place on VRL's timeline")
            values[key] = value.isoformat()
            kinds.append((key, "timestamp"))
        else:
            values[key] = value
    return values, tuple(kinds)


def _from_vrl(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_vrl(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {_TIMESTAMP_TAG}:
            # Microseconds: what a datetime holds (Vector's sinks keep milliseconds or less).
            return _EPOCH + timedelta(microseconds=value[_TIMESTAMP_TAG] // 1000)
        return {key: _from_vrl(item) for key, item in value.items()}
    return value
