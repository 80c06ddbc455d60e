"""
`sensor_node.settings`
================================================================================
Every ``settings.toml`` key the node reads, in one declarative table: ``SETTINGS``. The
table validates the settings at boot (``load_settings``) and writes
``settings.toml.example`` (``example_text``), so the two cannot drift apart.

``os.getenv`` re-reads the file on every call, so the settings are read once, at boot.
CircuitPython's ``settings.toml`` holds strings and integers only: a decimal such as
``0.5`` must be written in quotes. Every value is therefore accepted as a string too (from
CircuitPython 10.2 ``os.getenv`` returns every value as text). On 9.0 to 10.1 an unquoted
value that is not an integer (``KEY = 3.27``) makes ``os.getenv`` raise ValueError
(shared-module/os/getenv.c): that is reported for its key like any bad value.
"""

from collections import namedtuple

from sensor_protocol.topics import id_problem

try:
    from typing import Any, Callable, Dict, List, Optional
except ImportError:
    pass

Setting = namedtuple("Setting", ("key", "kind", "default", "limits", "example", "doc"))
"""One key. ``kind`` is ``str`` (``limits`` = length range), ``id`` (a contract id),
``int``/``float`` (``limits`` = inclusive range), ``bool``, ``choice`` (``limits`` = the
allowed values) or ``psk`` (a Wi-Fi password: empty, or ``limits`` bytes long, the longest
in hex digits, as wifi.Radio.connect wants it: shared-bindings/wifi/Radio.c). ``default``
is ``REQUIRED``, a value or a ``BoardValue``; ``example`` is what ``settings.toml.example``
shows when there is no plain default."""

REQUIRED = None


class BoardValue:
    """A default or limit taken from the board module's attribute ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name


_BUFFER = BoardValue("DEFAULT_BUFFER_CAPACITY")
_WATCHDOG = BoardValue("WATCHDOG_MAX_S")
_WATCHDOG_MIN = BoardValue("WATCHDOG_MIN_S")

# fmt: off
SETTINGS = (
    Setting("CIRCUITPY_WIFI_SSID", "str", REQUIRED, (1, 32), "studio-wifi",
            "Wi-Fi network name. CircuitPython joins it before code.py starts; the node "
            "rejoins it after an outage."),
    Setting("CIRCUITPY_WIFI_PASSWORD", "psk", "", (8, 64), None, "Wi-Fi password."),
    Setting("MQTT_BROKER", "str", REQUIRED, (1, 253), "192.168.1.10",
            "Broker host. Prefer an IP address: a host name costs a DNS lookup on every "
            "reconnect, and a lookup cannot be given a timeout."),
    Setting("MQTT_PORT", "int", 8883, (1, 65535), None,
            "Broker TCP port: the TLS listener's (8883), or the plain one's (1883) with "
            "MQTT_TLS = 0."),
    Setting("MQTT_TLS", "bool", True, None, None,
            "1: connect with TLS and accept only a broker whose certificate the CA in ca.pem "
            "(at the root of CIRCUITPY, written by provisioning) signed for the name "
            "MQTT_BROKER. 0: plain MQTT, which shows the password to anyone on the LAN; only "
            "for a board the site opted out of TLS (a Pico W: TLS does not fit its heap)."),
    Setting("MQTT_USER", "str", "", (0, 64), None,
            "Broker user name; empty when the broker needs no login."),
    Setting("MQTT_PASSWORD", "str", "", (0, 128), None, "Broker password for MQTT_USER."),
    Setting("MQTT_TOPIC_ROOT", "id", "furnace", None, None,
            "First topic level: topics are ROOT/STUDIO_ID/DEVICE_ID/channel."),
    Setting("STUDIO_ID", "id", REQUIRED, None, "studio1",
            "Studio this node belongs to: a-z, 0-9, '_' and '-', at most 32 characters."),
    Setting("DEVICE_ID", "id", REQUIRED, None, "furnace1",
            "This node's name within the studio: a-z, 0-9, '_' and '-', at most 32 "
            "characters."),
    Setting("SAMPLE_PERIOD_S", "float", 5, (0.5, 60), None,
            "Seconds between readings."),
    Setting("HEALTH_PERIOD_S", "int", 60, (10, 3600), None,
            "Seconds between health reports."),
    Setting("TC_TYPE", "choice", "K", ("B", "E", "J", "K", "N", "R", "S", "T"), None,
            "Thermocouple type (K tops out at 1372 C; N, R, S and B go higher)."),
    Setting("TC_AVERAGING", "choice", 4, (1, 2, 4, 8, 16), None,
            "Conversions the MAX31856 averages per reading; 16 takes about 0.8 s."),
    Setting("MAINS_HZ", "choice", 60, (50, 60), None,
            "Local mains frequency, rejected by the MAX31856 filter."),
    Setting("FLAME_DIVIDER_RATIO", "float", 1.0, (0.1, 100), None,
            "Volts at the flame rod per volt at the ADC pin (the divider or buffer gain)."),
    Setting("FLAME_OFFSET_V", "float", 0.0, (-5, 5), None,
            "Calibration offset added to the flame voltage, in volts."),
    Setting("FLAME_OVERSAMPLE", "int", 15, (1, 63), None,
            "ADC samples per flame reading; the median is kept."),
    Setting("FAULT_DEBOUNCE", "int", 3, (1, 20), None,
            "Consecutive readings a thermocouple fault must be present (or absent) before "
            "its flag is raised (or cleared). A faulted reading never carries a temperature."),
    Setting("BUFFER_CAPACITY", "int", _BUFFER, (60, 100000), 720,
            "Readings kept in RAM while the broker is out of reach (18 bytes each); when "
            "full, the oldest is dropped. Default: the board module's DEFAULT_BUFFER_CAPACITY."),
    Setting("NTP_SERVER", "str", "", (0, 253), None,
            "NTP server for the wall clock; empty means the broker's host (the Pi serves "
            "time to the LAN). Prefer an IP address: a name lookup cannot be bounded. "
            "Without a clock, readings wait on the board until it is set."),
    Setting("NTP_PORT", "int", 123, (1, 65535), None, "NTP server UDP port."),
    Setting("NTP_RESYNC_S", "int", 3600, (60, 21600), None,
            "Seconds between clock syncs. Readings carry no wall time once the last sync is "
            "6 hours old."),
    Setting("KEEPALIVE_S", "int", 15, (5, 120), None,
            "MQTT keep-alive; the broker declares the node offline after 1.5 times this "
            "without a packet (the default: offline within about 30 s)."),
    Setting("RADIO_RESTART_AFTER_S", "int", 120, (30, 3600), None,
            "Seconds in which the node's connection attempts got no answer at all from "
            "the network before the radio is restarted and the socket pool recreated "
            "(repeated at this interval)."),
    Setting("RESET_AFTER_OFFLINE_S", "int", 1800, (120, 604800), None,
            "Seconds without a broker connection (and without any answer from the network "
            "for RADIO_RESTART_AFTER_S) before the board resets, once its buffer is full. A "
            "reset loses the readings held in RAM, so none comes while the buffer has room; a "
            "broker that refuses connections proves the network works and never causes one. "
            "More than RADIO_RESTART_AFTER_S."),
    Setting("WATCHDOG_S", "float", _WATCHDOG, (_WATCHDOG_MIN, _WATCHDOG), 8,
            "Hardware watchdog timeout in seconds, longer than the board's longest blocking "
            "step (the Wi-Fi join): 8 on a Pico W or Pico 2 W, 25 to 30 on an ESP32-S2 or S3. "
            "Default: the board module's WATCHDOG_MAX_S."),
    Setting("PRODUCTION", "bool", True, None, None,
            "1: auto-reload off, so a write to CIRCUITPY cannot restart the node mid-firing. "
            "0 while developing."),
)
# fmt: on

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A key is missing or bad. ``key`` names it, ``problem`` says what is wrong and ``fix``
    what to write instead. The node shows it and re-reads the settings later."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__("%s %s" % (key, problem))
        self.key = key
        self.problem = problem
        self.fix = fix


def _number_text(value: "Any") -> str:
    if isinstance(value, float) and value != int(value):
        return repr(value)
    return "%d" % value


def toml_value(value: "Any") -> str:
    """``value`` as CircuitPython's settings.toml can hold it (decimals in quotes)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return "%d" % value
    if isinstance(value, float):
        if value == int(value):
            return "%d" % value
        return '"%r"' % value
    return '"%s"' % value


def _resolve(value: "Any", board: "Any") -> "Any":
    if isinstance(value, BoardValue):
        return getattr(board, value.name)
    return value


def _fix(setting: "Any", board: "Any") -> str:
    value = _resolve(setting.default, board)
    if value is REQUIRED:
        value = setting.example
    return "write %s = %s in settings.toml" % (setting.key, toml_value(value))


def _as_number(raw: "Any", kind: str) -> "Any":
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if kind == "int" else float(raw)
    try:
        text = str(raw).strip()
        return int(text) if kind == "int" else float(text)
    except ValueError:
        return None


def _check(setting: "Any", raw: "Any", board: "Any") -> "Any":
    """The value of ``setting`` from ``raw``, or raise SettingsError."""
    kind = setting.kind
    limits = setting.limits
    if kind in ("int", "float"):
        lo = _resolve(limits[0], board)
        hi = _resolve(limits[1], board)
        value = _as_number(raw, kind)
        if value is None or value != value or value < lo or value > hi:
            what = "a whole number" if kind == "int" else "a number"
            raise SettingsError(
                setting.key,
                "must be %s between %s and %s, got %r"
                % (what, _number_text(lo), _number_text(hi), raw),
                _fix(setting, board),
            )
        return value
    text = raw if isinstance(raw, str) else str(raw)
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered not in _TRUE + _FALSE:
            raise SettingsError(setting.key, "must be 1 or 0, got %r" % raw, _fix(setting, board))
        return lowered in _TRUE
    if kind == "choice":
        for allowed in limits:
            if text.strip().upper() == str(allowed):
                return allowed
        raise SettingsError(
            setting.key,
            "must be one of %s, got %r" % (", ".join(str(item) for item in limits), raw),
            _fix(setting, board),
        )
    if kind == "id":
        problem = id_problem(text)
        if problem is not None:
            raise SettingsError(setting.key, problem + ", got %r" % raw, _fix(setting, board))
        return text
    if kind == "psk":
        size = len(text.encode())
        hexed = size == limits[1] and all(c in "0123456789abcdefABCDEF" for c in text)
        if size and not (limits[0] <= size < limits[1] or hexed):
            raise SettingsError(
                setting.key,
                "must be empty or %d to %d characters (or %d hex digits), got %d"
                % (limits[0], limits[1] - 1, limits[1], size),
                'write the network\'s password as %s = "..."' % setting.key,
            )
        return text
    if len(text) < limits[0] or len(text) > limits[1]:
        raise SettingsError(
            setting.key,
            "must be %d to %d characters long, got %d" % (limits[0], limits[1], len(text)),
            _fix(setting, board),
        )
    return text


def _cross_check(values: "Dict[str, Any]", board: "Any") -> None:
    """Rules between keys; the error names the key to change."""
    by_key = {setting.key: setting for setting in SETTINGS}
    if values["RESET_AFTER_OFFLINE_S"] <= values["RADIO_RESTART_AFTER_S"]:
        raise SettingsError(
            "RESET_AFTER_OFFLINE_S",
            "must be greater than RADIO_RESTART_AFTER_S (%d), got %d"
            % (values["RADIO_RESTART_AFTER_S"], values["RESET_AFTER_OFFLINE_S"]),
            _fix(by_key["RESET_AFTER_OFFLINE_S"], board),
        )
    if values["MQTT_PASSWORD"] and not values["MQTT_USER"]:
        raise SettingsError(
            "MQTT_USER",
            "is empty but MQTT_PASSWORD is set; MQTT sends a password only with a user name",
            'write MQTT_USER = "..." in settings.toml, or remove MQTT_PASSWORD',
        )
    if values["MQTT_USER"] and not values["MQTT_PASSWORD"]:
        # MiniMQTT sends a user name only with a password (it would call None.encode()).
        raise SettingsError(
            "MQTT_PASSWORD",
            "is empty but MQTT_USER is set",
            'write MQTT_PASSWORD = "..." in settings.toml, or remove MQTT_USER',
        )


CA_FILE = "ca.pem"
"""The broker's CA certificate (PEM), at the root of CIRCUITPY (the working directory of
code.py on a board and on the virtual board)."""
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"
_CA_FIX = "provision the board again (sensor-bridge provision writes ca.pem)"


def load_ca(read_text: "Callable[[str], str]") -> str:
    """The text of ``CA_FILE`` through ``read_text`` (the whole file as text), or raise
    SettingsError: a board set for TLS without its CA can only wait for new files. The
    text must hold a PEM certificate: mbedTLS parses it only at the first connect
    (shared-module/ssl/SSLSocket.c), where a bad one would read as a network error."""
    try:
        text = read_text(CA_FILE)
    except (OSError, ValueError) as exc:
        raise SettingsError(
            CA_FILE,
            "cannot be read with MQTT_TLS = 1 (%s: %s)" % (type(exc).__name__, exc),
            _CA_FIX,
        ) from None
    begin = text.find(_PEM_BEGIN)
    if begin < 0 or text.find(_PEM_END, begin) < 0:
        raise SettingsError(CA_FILE, "holds no PEM certificate", _CA_FIX)
    return text


def load_settings(getenv: "Callable[[str], Any]", board: "Any") -> "Dict[str, Any]":
    """Read every key once through ``getenv`` (``os.getenv`` on a board) and validate it:
    the values by key, as a plain dict.

    ``board`` is the board module (for board defaults and limits). Raises SettingsError for
    the first bad or missing key in table order. A plain dict, not an instance of a class
    of this module: on a board this module is freed after boot (``sensor_node.app``), and
    an instance would keep the whole module, table and texts, in RAM.
    """
    values = {}
    for setting in SETTINGS:
        try:
            raw = getenv(setting.key)
        except ValueError as exc:
            raise SettingsError(
                setting.key,
                "cannot be read (%s)" % exc,
                'put the value in double quotes: %s = "..."' % setting.key,
            ) from None
        text_kind = setting.kind in ("str", "psk")
        if raw is None or (isinstance(raw, str) and not raw.strip() and not text_kind):
            default = _resolve(setting.default, board)
            if default is REQUIRED:
                raise SettingsError(setting.key, "is missing", _fix(setting, board))
            values[setting.key] = default
            continue
        if setting.kind == "str" and setting.default is REQUIRED and not raw:
            raise SettingsError(setting.key, "is empty", _fix(setting, board))
        values[setting.key] = _check(setting, raw, board)
    _cross_check(values, board)
    return values


def _limits_text(setting: "Any") -> "Optional[str]":
    kind = setting.kind
    limits = setting.limits
    if kind in ("int", "float"):
        parts = []
        for limit in limits:
            if isinstance(limit, BoardValue):
                parts.append("the board's " + limit.name)
            else:
                parts.append(_number_text(limit))
        return "Range: %s to %s." % (parts[0], parts[1])
    if kind == "choice":
        return "One of: %s." % ", ".join(str(item) for item in limits)
    if kind == "bool":
        return "1 or 0."
    if kind == "str" and limits[0] == 0:
        return "At most %d characters." % limits[1]
    if kind == "psk":
        return "Empty for an open network, else %d to %d characters or %d hex digits." % (
            limits[0],
            limits[1] - 1,
            limits[1],
        )
    return None


def _wrap(text: str, width: int) -> "List[str]":
    lines = []
    line = ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = word if not line else line + " " + word
    lines.append(line)
    return lines


EXAMPLE_HEADER = (
    "# settings.toml for the furnace sensor node: copy to CIRCUITPY/settings.toml and edit.\n"
    "# Generated from sensor_node.settings.SETTINGS (edit the table, not this file); a test\n"
    "# fails when they differ. Keep the real settings.toml out of git: it holds passwords.\n"
    "#\n"
    '# CircuitPython reads strings and integers only: write a decimal in quotes ("0.5").\n'
    "# A bad or missing key shows on the console (one line naming the key and the fix) and\n"
    "# as a magenta status LED; the node re-reads the file every 30 seconds.\n"
)


def example_text() -> str:
    """The text of ``firmware/settings.toml.example``."""
    out = [EXAMPLE_HEADER]
    for setting in SETTINGS:
        comment = [setting.doc]
        limits = _limits_text(setting)
        if limits:
            comment.append(limits)
        if setting.default is REQUIRED:
            comment.append("Required.")
        out.append("\n")
        for line in _wrap(" ".join(comment), 88):
            out.append("# " + line + "\n")
        if isinstance(setting.default, BoardValue):
            out.append("# %s = %s\n" % (setting.key, toml_value(setting.example)))
        elif setting.default is REQUIRED:
            out.append("%s = %s\n" % (setting.key, toml_value(setting.example)))
        else:
            out.append("%s = %s\n" % (setting.key, toml_value(setting.default)))
    return "".join(out)
