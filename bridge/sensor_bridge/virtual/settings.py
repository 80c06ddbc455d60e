"""``settings.toml`` as CircuitPython reads it.

``load_settings`` gives the runner the file's top-level keys, typed (``supervisor.get_setting``,
the wiring, the join before code.py). ``os.getenv`` on the board, which re-reads the file on
every call as its release line does, is ``sensor_bridge.virtual.getenv``.
"""

import tomllib
from pathlib import Path

SettingValue = str | int | float | bool


class SettingsFile(dict[str, SettingValue]):
    """The typed top-level keys of ``path`` ({} when it does not exist)."""

    def __init__(self, path: Path, values: dict[str, SettingValue]) -> None:
        super().__init__(values)
        self.path = path


def load_settings(path: Path) -> SettingsFile:
    """Top-level scalar keys of ``path``; {} when the file does not exist."""
    if not path.exists():
        return SettingsFile(path, {})
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return SettingsFile(path, _scalars(tomllib.loads(text)))
    except tomllib.TOMLDecodeError:
        return SettingsFile(path, _line_by_line(text))


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
    """The text ``os.environ`` holds for a setting."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
