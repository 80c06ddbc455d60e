"""The board's console output as lines: cut, cleaned, stamped with the host's time, coloured.

The firmware writes ``<uptime> <LEVEL> <event> key=value ...`` (``sensor_node.console``);
``parse_line`` reads one back and tells an event line from anything else (CircuitPython's
messages, a traceback, the REPL), which is shown as it is. CircuitPython also writes terminal
codes of its own: its status bar as a window-title sequence (``ESC ] 0; ... ESC \\``) and line
clears; they are removed, so lines parse and the log stays plain text.
"""

from __future__ import annotations

import codecs
import re
from datetime import datetime

from sensor_node.console import LEVELS

_TERMINAL_CODE = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-?]*[ -/]*[@-~]")

RESET = "\x1b[0m"
LEVEL_STYLES = {"DEBUG": "\x1b[2m", "INFO": "", "WARN": "\x1b[33m", "ERROR": "\x1b[1;31m"}
"""SGR codes per firmware level: DEBUG dim, INFO plain, WARN yellow, ERROR bold red."""
STAMP_STYLE = "\x1b[2m"
NOTICE_STYLE = "\x1b[36m"


def _split(text: str) -> list[str] | None:
    """Split on spaces outside double quotes, undoing the escapes; None if unbalanced."""
    tokens: list[str] = []
    current: list[str] = []
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


def parse_line(line: str) -> tuple[float, str, str, dict[str, str]] | None:
    """``(uptime_s, level, event, fields)`` from a console line, or None when ``line`` is not
    one (a traceback, another program's output). Values come back as strings, ``-`` as-is."""
    head = line.rstrip("\r\n").split(" ", 3)
    if len(head) < 3 or head[1] not in LEVELS or not head[2]:
        return None
    try:
        uptime_s = float(head[0])
    except ValueError:
        return None
    fields: dict[str, str] = {}
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


def strip_terminal_codes(text: str) -> str:
    """``text`` without escape sequences and carriage returns."""
    return _TERMINAL_CODE.sub("", text).replace("\r", "")


def screen_stamp(at: datetime) -> str:
    """The time a line arrived, as the terminal shows it: ``21:14:39.123``."""
    return at.strftime("%H:%M:%S.") + f"{at.microsecond // 1000:03d}"


def log_stamp(at: datetime) -> str:
    """The time a line arrived, as the log keeps it: the date too, and the UTC offset."""
    return at.isoformat(timespec="milliseconds")


def level_of(line: str) -> str | None:
    """The firmware level of an event line; None for any other line."""
    parsed = parse_line(line)
    return parsed[1] if parsed else None


def screen_line(line: str, at: datetime, colour: bool) -> str:
    """``line`` stamped for the terminal; with ``colour``, in its level's colour."""
    if not colour:
        return f"{screen_stamp(at)} {line}"
    style = LEVEL_STYLES.get(level_of(line) or "", "")
    body = f"{style}{line}{RESET}" if style else line
    return f"{STAMP_STYLE}{screen_stamp(at)}{RESET} {body}"


def screen_notice(text: str, at: datetime, colour: bool) -> str:
    """A line of the console's own (the port opened, lost, back), set apart from the board's."""
    notice = f"--- {text} ---"
    if not colour:
        return f"{screen_stamp(at)} {notice}"
    return f"{STAMP_STYLE}{screen_stamp(at)}{RESET} {NOTICE_STYLE}{notice}{RESET}"


def log_line(line: str, at: datetime) -> str:
    return f"{log_stamp(at)} {line}"


class LineBuffer:
    """Bytes from the board, in whatever pieces they arrive, cut into cleaned lines.

    A multi-byte character or an escape sequence split between two reads is joined first;
    bytes that are not UTF-8 become U+FFFD.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._open = ""

    def feed(self, data: bytes) -> list[str]:
        """The lines ``data`` completes; a line that held only terminal codes is no line."""
        *lines, self._open = (self._open + self._decoder.decode(data)).split("\n")
        cleaned = [(strip_terminal_codes(line), line) for line in lines]
        return [text for text, raw in cleaned if text or not raw.strip("\r")]

    def open_line(self) -> str:
        """The line not yet ended (a REPL prompt waits for input without a newline), cleaned,
        and cut before an escape sequence that has not fully arrived."""
        text = strip_terminal_codes(self._open)
        return text.partition("\x1b")[0]

    def reset(self) -> str:
        """Forget the open line (the board went away); returns it."""
        line = self.open_line()
        self._decoder.reset()
        self._open = ""
        return line
