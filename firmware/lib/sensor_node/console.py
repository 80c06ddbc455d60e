"""
`sensor_node.console`
================================================================================
One line per event on the serial console, in a stable format that tests and the serial
HIL suite parse::

    <uptime seconds, 3 decimals> <LEVEL> <event> key=value key=value ...

``LEVEL`` is one of ``LEVELS``. A value holding a space, a quote, ``=``, a backslash or
nothing at all is double-quoted, with ``\\``, ``"`` and newlines escaped. ``None`` is
written ``-``. ``parse_line`` reads a line back.

Fields are passed as alternating key, value arguments (``console.info("boot", "fw",
"0.1.0")``) so that they keep their order on CircuitPython and cost no dict.
"""

try:
    from typing import Any, Callable, Dict, Optional, Tuple
except ImportError:
    pass

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")

_NEEDS_QUOTES = ' "=\\\n\r\t'


def format_value(value: "Any") -> str:
    """``value`` as it appears after ``key=``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        text = "%.3f" % value
    else:
        text = str(value)
    if text and not any(char in _NEEDS_QUOTES for char in text):
        return text
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return '"' + escaped + '"'


def format_line(uptime_ms: int, level: str, event: str, pairs: "Tuple[Any, ...]") -> str:
    """The console line for ``event``; ``pairs`` alternates keys and values."""
    parts = ["%d.%03d" % (uptime_ms // 1000, uptime_ms % 1000), level, event]
    for index in range(0, len(pairs) - 1, 2):
        parts.append("%s=%s" % (pairs[index], format_value(pairs[index + 1])))
    return " ".join(parts)


def _split(text: str) -> "Optional[list]":
    """Split on spaces outside double quotes, undoing the escapes; None if unbalanced."""
    tokens = []
    current = []
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            current.append({"n": "\n", "r": "\r"}.get(char, char))
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == " " and not quoted:
            tokens.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted or escaped:
        return None
    tokens.append("".join(current))
    return tokens


def parse_line(line: str) -> "Optional[Tuple[float, str, str, Dict[str, str]]]":
    """``(uptime_s, level, event, fields)`` from a console line, or None when ``line`` is not
    one (a traceback, another program's output). Values come back as strings, ``-`` as-is."""
    head = line.rstrip("\r\n").split(" ", 3)
    if len(head) < 3 or head[1] not in LEVELS or not head[2]:
        return None
    try:
        uptime_s = float(head[0])
    except ValueError:
        return None
    fields = {}
    if len(head) == 4:
        tokens = _split(head[3])
        if tokens is None:
            return None
        for token in tokens:
            key, sep, value = token.partition("=")
            if not sep or not key:
                return None
            fields[key] = value
    return uptime_s, head[1], head[2], fields


class Console:
    """Writes event lines stamped with ``uptime_ms()``; ``write`` defaults to ``print``."""

    def __init__(
        self, uptime_ms: "Callable[[], int]", write: "Optional[Callable[[str], Any]]" = None
    ) -> None:
        self._uptime_ms = uptime_ms
        self._write = write if write is not None else print

    def log(self, level: str, event: str, *pairs: "Any") -> None:
        """Write one ``level`` line for ``event``."""
        self._write(format_line(self._uptime_ms(), level, event, pairs))

    def debug(self, event: str, *pairs: "Any") -> None:
        """A DEBUG line."""
        self.log("DEBUG", event, *pairs)

    def info(self, event: str, *pairs: "Any") -> None:
        """An INFO line."""
        self.log("INFO", event, *pairs)

    def warn(self, event: str, *pairs: "Any") -> None:
        """A WARN line."""
        self.log("WARN", event, *pairs)

    def error(self, event: str, *pairs: "Any") -> None:
        """An ERROR line."""
        self.log("ERROR", event, *pairs)
