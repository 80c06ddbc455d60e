"""
`sensor_node.console`
================================================================================
One line per event on the serial console, in a stable format that tests and the serial
HIL suite parse::

    <uptime seconds, 3 decimals> <LEVEL> <event> key=value key=value ...

``LEVEL`` is one of ``LEVELS``. A value holding a space, a quote, ``=``, a backslash or
nothing at all is double-quoted, with ``\\``, ``"`` and newlines escaped. ``None`` is
written ``-``. The host reads lines back (``sensor_bridge.console.lines.parse_line``): the
parser is not the board's to carry.

Fields are passed as alternating key, value arguments (``console.info("boot", "fw",
"0.1.0")``) so that they keep their order on CircuitPython and cost no dict.
"""

try:
    from typing import Any, Callable, Optional, Tuple
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
