"""``os.getenv`` on a board: CircuitPython's own reading of ``/settings.toml``, per release line.

The board re-reads the file at every call, line by line, and never parses it as TOML:

* 9.x to 10.1 (shared-module/os/getenv.c, ``common_hal_os_getenv_path``): a quoted value
  is a str (escapes ``\\b \\r \\n \\t \\v \\f \\uXXXX \\UXXXXXXXX``, any other escaped character
  stands for itself); an unquoted value must be an integer (``mp_parse_num_integer``, base 0):
  anything else raises ValueError. A malformed quoted value raises ``ValueError: Invalid
  byte ...``. A missing file or key gives the default.
* 10.2 (supervisor/shared/settings.c, ``settings_get_raw_vstr``): every value is returned as
  its text, quoted or not (an unquoted one without its trailing blanks); a malformed or empty
  value gives the default.

Both stop at the first line that starts with ``[`` (a table: what follows is not read).
The release line comes from ``sensor_bridge.virtual.families.ReleaseLine``.
"""

import re
from pathlib import Path
from typing import NamedTuple

from sensor_bridge.virtual.families import ReleaseLine

_ESCAPES = {"b": "\b", "r": "\r", "n": "\n", "t": "\t", "v": "\v", "f": "\f"}
_SPACE = " \t\r\f\v"
"""``unichar_isspace`` without the newline, which ends a value."""
_BLANK = _SPACE + "\n"
_PREFIXES = {"x": 16, "o": 8, "b": 2}
_STRTOUL = re.compile(r"\s*[+-]?(?:0[xX](?=[0-9a-fA-F]))?[0-9a-fA-F]*")
"""What C's strtoul(..., 16) consumes of a \\u escape's digits (read_unicode_escape)."""


class Found(NamedTuple):
    value: str | int | None
    """None: the key is absent (the caller's default applies)."""
    error: str | None = None
    """The ValueError text the board raises, when it raises one."""


class _Malformed(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _invalid_byte(char: str) -> _Malformed:
    # handle_getenv_error: mp_str_print_quoted of the byte, or of "EOF".
    return _Malformed("Invalid byte " + (repr(char) if char else "'EOF'"))


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The string after the opening quote at ``start - 1`` (read_string_value), and where the
    line's remainder starts."""
    out: list[str] = []
    index = start
    while True:
        char = text[index] if index < len(text) else ""
        index += 1
        if char in ("", "\n"):
            raise _invalid_byte(char)
        if char == '"':
            rest = text[index:].split("\n", 1)[0].lstrip(_SPACE)
            if rest and not rest.startswith("#"):
                raise _invalid_byte(rest[0])
            return "".join(out), index
        if char == "\\":
            char = text[index] if index < len(text) else ""
            index += 1
            if char in ("", "\n"):
                raise _invalid_byte(char)
            if char in "uU":
                size = 4 if char == "u" else 8
                digits = text[index : index + size]
                index += size
                parsed = _STRTOUL.match(digits)
                end = parsed.end() if parsed else 0
                if end != size:
                    raise _invalid_byte(digits[end : end + 1])
                code = int(digits.strip() or "0", 16)
                if code >= 0x110000:
                    raise _Malformed("Invalid unicode escape")
                out.append(chr(code))
                continue
            char = _ESCAPES.get(char, char)
        out.append(char)


def _bare(text: str, start: int) -> str:
    """An unquoted value: up to the end of the line or a ``#`` (read_bare_value)."""
    end = len(text)
    for stop in ("\n", "#"):
        found = text.find(stop, start)
        if found != -1:
            end = min(end, found)
    return text[start:end]


def _value_start(text: str, key: str) -> int | None:
    """Where the value of ``key`` starts (after ``=`` and blanks), or None (key_matches)."""
    for line_start, line in _lines(text):
        stripped = line.lstrip(_SPACE)
        if stripped.startswith("["):
            return None
        if not stripped.startswith(key):
            continue
        after = stripped[len(key) :]
        rest = after.lstrip(_SPACE)
        if not rest.startswith("="):
            continue
        offset = line_start + (len(line) - len(rest)) + 1
        while offset < len(text) and text[offset] in _SPACE:
            offset += 1
        return offset
    return None


def _lines(text: str) -> list[tuple[int, str]]:
    lines = []
    start = 0
    for line in text.split("\n"):
        lines.append((start, line))
        start += len(line) + 1
    return lines


def _parse_integer(text: str) -> int:
    """py/parsenum.c ``mp_parse_num_integer(text, len, 0)`` with py/parsenumbase.c: blanks
    around, a sign, a 0x/0o/0b prefix, underscores between digits; a leading 0 without a
    prefix makes base "1" (only zeros parse), reported as base 0."""
    index, top = 0, len(text)
    while index < top and text[index] in _BLANK:
        index += 1
    negative = index < top and text[index] == "-"
    if index < top and text[index] in "+-":
        index += 1
    base = 10
    if top - index > 1 and text[index] == "0":
        base = _PREFIXES.get(text[index + 1].lower(), 1)
        if base != 1:
            index += 2
    start, value = index, 0
    while index < top:
        char = text[index].lower()
        if char != "_":
            digit = int(char, 36) if char.isascii() and char.isalnum() else 36
            if digit >= base:
                break
            value = value * base + digit
        index += 1
    end = index
    while index < top and text[index] in _BLANK:
        index += 1
    if end == start or index != top:
        shown = 0 if base == 1 else base
        raise _Malformed(f"invalid syntax for integer with base {shown}: {text[start:]!r}")
    return -value if negative else value


def getenv(text: str | None, key: str, line: ReleaseLine) -> Found:
    """What ``os.getenv(key)`` does on a board of release ``line`` whose /settings.toml holds
    ``text`` (None: there is no such file)."""
    if text is None:
        return Found(None)
    start = _value_start(text, key)
    if start is None:
        return Found(None)
    quoted = start < len(text) and text[start] == '"'
    raw_strings = line.getenv_unquoted_non_int == "str"
    try:
        if quoted:
            return Found(_quoted(text, start + 1)[0])
        value = _bare(text, start)
        if raw_strings:
            value = value.rstrip(" \t\r")
            return Found(value) if value else Found(None)
        return Found(_parse_integer(value))
    except _Malformed as malformed:
        return Found(None) if raw_strings else Found(None, malformed.text)


def on_board(text: str | None, key: str, default: object, line: ReleaseLine) -> object:
    """``os.getenv(key, default)`` as the board answers it: the value, the default, or the
    board's ValueError."""
    found = getenv(text, key, line)
    if found.error is not None:
        raise ValueError(found.error)
    return default if found.value is None else found.value


def read_settings(path: Path) -> str | None:
    """The text of ``path`` (a drive's settings.toml), or None when there is no such file."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
