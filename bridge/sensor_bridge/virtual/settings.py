"""``settings.toml`` as CircuitPython reads it, exposed through ``os.environ``.

CircuitPython parses the file line by line: top-level ``key = value`` pairs only (a table
header ends them), and a line it cannot parse only loses its own key. ``os.getenv`` on the
board sees these keys and nothing of the host's environment.
"""

import tomllib
from pathlib import Path

SettingValue = str | int | float | bool


def load_settings(path: Path) -> dict[str, SettingValue]:
    """Top-level scalar keys of ``path``; {} when the file does not exist."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return _scalars(tomllib.loads(text))
    except tomllib.TOMLDecodeError:
        return _line_by_line(text)


def _line_by_line(text: str) -> dict[str, SettingValue]:
    values: dict[str, SettingValue] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            break
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        try:
            values.update(_scalars(tomllib.loads(stripped)))
        except tomllib.TOMLDecodeError:
            continue
    return values


def _scalars(table: dict[str, object]) -> dict[str, SettingValue]:
    return {
        key: value for key, value in table.items() if isinstance(value, str | int | float | bool)
    }


def environ_value(value: SettingValue) -> str:
    """The text ``os.getenv`` returns for a setting."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
