"""What each CircuitPython port does differently, as data: one row per port family, one per
release line. The emulated modules (the CPython engine in ``sensor_bridge.virtual`` and the
modules that run on the CircuitPython VM) read these rows instead of answering the way the
firmware expects.

Every value names the CircuitPython source file it comes from (tag 10.1.0 unless a row says
otherwise); ``SOURCES`` keeps those citations next to the values so a test can show them.

Errors are named (``ECONNRESET``), not numbered: on the VM a name takes the unix port's
(Linux) number, ETIMEDOUT 110, where a board's newlib gives 116. The firmware compares with
its own ``errno`` module's constants, so it decides the same on both; only a number printed
on the console differs.
"""

from typing import NamedTuple


class PortFamily(NamedTuple):
    name: str
    """CircuitPython's ``ports/<name>`` directory."""
    ap_info_raises: bool
    """``wifi.radio.ap_info`` raises NotImplementedError instead of returning a Network."""
    reset_errno: str
    """The errno name a connect or read sees when the peer answers with a TCP reset (a
    closed port): lwIP's ERR_RST."""
    connect_timeout_errno: str
    """The errno name ``socket.connect`` raises when its timeout passes unanswered."""
    radio_disable_stops_radio: bool
    """``wifi.radio.enabled = False`` really stops the radio (and so can recover it)."""
    watchdog_timeout_change_when_armed: str
    """What setting ``WatchDogTimer.timeout`` does once the mode is RESET: ``"ok"`` or the
    exception it raises."""
    wifi_connect_timeout_bounds_call: bool
    """``wifi.radio.connect(timeout=T)`` returns or raises within T; when False, T only stops
    further retries and the call waits for the association to succeed or fail."""
    wifi_connect_unbounded_s: float
    """When the timeout does not bound the call: how long ``connect`` takes to fail with an
    absent access point (the driver's own scan; 0 when the timeout bounds the call)."""
    nvm_erase_bytes: int
    """Flash erased per ``microcontroller.nvm`` write (amortised where the port writes a log
    that is erased page by page later)."""
    wifi_connect_attempt_s: float
    """When the timeout does not bound the call: one association attempt with an access
    point that is on the air but never completes the association (the connect scan, then
    the driver's authentication, association and 4-way-handshake timers). An attempt started
    before the deadline runs to its end, so ``connect`` can last the timeout plus this."""


RASPBERRYPI = PortFamily(
    name="raspberrypi",
    ap_info_raises=True,
    reset_errno="ECONNRESET",
    connect_timeout_errno="EINPROGRESS",
    radio_disable_stops_radio=False,
    watchdog_timeout_change_when_armed="ok",
    wifi_connect_timeout_bounds_call=True,
    wifi_connect_unbounded_s=0.0,
    nvm_erase_bytes=4096,
    wifi_connect_attempt_s=0.0,
)

ESPRESSIF = PortFamily(
    name="espressif",
    ap_info_raises=False,
    reset_errno="ECONNRESET",
    connect_timeout_errno="ETIMEDOUT",
    radio_disable_stops_radio=True,
    watchdog_timeout_change_when_armed="espidf.IDFError",
    wifi_connect_timeout_bounds_call=False,
    wifi_connect_unbounded_s=2.4,
    nvm_erase_bytes=8192,
    wifi_connect_attempt_s=14.4,
)

FAMILIES = {f.name: f for f in (RASPBERRYPI, ESPRESSIF)}

CHIP_FAMILY = {"rp2040": RASPBERRYPI, "rp2350": RASPBERRYPI, "esp32s2": ESPRESSIF,
               "esp32s3": ESPRESSIF, "generic": RASPBERRYPI}  # fmt: skip
"""``pins.BoardSpec.family`` (the chip) to its port. A board the virtual board does not
know gets the stricter family (no ap_info, no radio restart)."""

SOURCES = {
    ("raspberrypi", "ap_info_raises"): "ports/raspberrypi/common-hal/wifi/Radio.c "
    "(common_hal_wifi_radio_get_ap_info: mp_raise_NotImplementedError)",
    ("raspberrypi", "reset_errno"): "ports/raspberrypi/common-hal/socketpool/Socket.c "
    "(_lwip_tcp_error stores ERR_RST in the state; error_lookup_table: ERR_RST -> "
    "MP_ECONNRESET)",
    ("raspberrypi", "connect_timeout_errno"): "ports/raspberrypi/common-hal/socketpool/Socket.c "
    "(common_hal_socketpool_socket_connect: still STATE_CONNECTING -> MP_EINPROGRESS)",
    ("raspberrypi", "radio_disable_stops_radio"): "ports/raspberrypi/common-hal/wifi/Radio.c "
    "(common_hal_wifi_radio_set_enabled: 'TODO: Actually enable and disable the WiFi "
    "module'; it only leaves the network (cyw43_wifi_leave))",
    ("raspberrypi", "watchdog_timeout_change_when_armed"): "ports/raspberrypi/common-hal/"
    "watchdog/WatchDogTimer.c (set_timeout re-runs watchdog_enable)",
    ("raspberrypi", "wifi_connect_timeout_bounds_call"): "ports/raspberrypi/common-hal/wifi/"
    "Radio.c (common_hal_wifi_radio_connect polls cyw43 link status until the deadline, "
    "after stop_station's own 500 ms wait)",
    ("raspberrypi", "nvm_erase_bytes"): "ports/raspberrypi/common-hal/nvm/ByteArray.c "
    "(set_bytes: erase_and_write_sector, flash_range_erase of FLASH_SECTOR_SIZE, unless "
    "every target byte still reads 0xFF)",
    ("espressif", "ap_info_raises"): "ports/espressif/common-hal/wifi/Radio.c "
    "(common_hal_wifi_radio_get_ap_info: esp_wifi_sta_get_ap_info)",
    ("espressif", "reset_errno"): "ports/espressif/common-hal/socketpool/Socket.c "
    "(connect: getsockopt SO_ERROR; lwIP err_to_errno ERR_RST -> ECONNRESET)",
    ("espressif", "connect_timeout_errno"): "ports/espressif/common-hal/socketpool/Socket.c "
    "(common_hal_socketpool_socket_connect: 'No connection after timeout' -> ETIMEDOUT)",
    ("espressif", "radio_disable_stops_radio"): "ports/espressif/common-hal/wifi/Radio.c "
    "(common_hal_wifi_radio_set_enabled: esp_wifi_stop)",
    ("espressif", "watchdog_timeout_change_when_armed"): "ports/espressif/common-hal/watchdog/"
    "WatchDogTimer.c (set_timeout -> wdt_config -> CHECK_ESP_RESULT(esp_task_wdt_add) for a "
    "task already subscribed: ESP_ERR_INVALID_ARG, raised by common-hal/espidf/__init__.c "
    "raise_esp_error as IDFError('Invalid argument'))",
    ("espressif", "wifi_connect_timeout_bounds_call"): "ports/espressif/common-hal/wifi/Radio.c "
    "(common_hal_wifi_radio_connect: past end_time only retries_left = 0; the loop waits for "
    "WIFI_CONNECTED_BIT | WIFI_DISCONNECTED_BIT)",
    ("espressif", "wifi_connect_unbounded_s"): "ports/espressif/common-hal/wifi/Radio.c "
    "(connect: channel 0 and no bssid -> WIFI_ALL_CHANNEL_SCAN) and common-hal/wifi/__init__.c "
    "(event_handler: WIFI_REASON_NO_AP_FOUND is not retried, so the 5 retries never run for an "
    "absent access point): one all-channel scan at ESP-IDF v5.5's defaults (no country set: "
    "'01', channels 1-11 active at 120 ms, 12-14 passive at 360 ms): 11 x 0.12 + 3 x 0.36 s",
    ("espressif", "wifi_connect_attempt_s"): "the 2.4 s connect scan, then the driver's 1 s "
    "auth timer, 1 s association timer and 10 s 4-way-handshake timer (the Wi-Fi driver is a "
    "binary blob: the timers are from its log, 'start 1s AUTH timer', 'restart connect 1s timer "
    "for assoc', 'start 10s connect timer for 4 way handshake', espressif/esp-at#200); those "
    "reasons are retried by common-hal/wifi/__init__.c until Radio.c's deadline",
    ("espressif", "nvm_erase_bytes"): "ports/espressif/common-hal/nvm/ByteArray.c (set_bytes: "
    "nvs_erase_all, then nvs_set_blob of the whole CIRCUITPY_INTERNAL_NVM_SIZE, 8 KB, "
    "mpconfigport.h) into the 20 KB nvs partition (esp-idf-config/partitions-4MB.csv): NVS "
    "appends, so every write's 8 KB is erased page by page later",
}

ERRNO = {
    "EPERM": 1, "ENOENT": 2, "EIO": 5, "EBADF": 9, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13,
    "EEXIST": 17, "ENODEV": 19, "EISDIR": 21, "EINVAL": 22, "ENOSPC": 28, "EROFS": 30,
    "EOPNOTSUPP": 95, "EADDRINUSE": 112, "ECONNABORTED": 113, "ECONNRESET": 104,
    "ENOBUFS": 105, "ENOTCONN": 128, "ETIMEDOUT": 116, "ECONNREFUSED": 111,
    "EHOSTUNREACH": 118, "EALREADY": 120, "EINPROGRESS": 119,
}  # fmt: skip
"""CircuitPython's ``errno`` module on both ports: the names of py/moderrno.c's
MICROPY_PY_ERRNO_LIST, with newlib's numbers (newlib/libc/include/sys/errno.h). No port sets
MICROPY_USE_INTERNAL_ERRNO (py/mpconfig.h default 0), so py/mperrno.h takes MP_E* from the
toolchain's <errno.h>: newlib on both (ports/raspberrypi/Makefile --specs=nano.specs,
ports/espressif/Makefile newlib), and lwIP reports the same numbers. Not the host's: Linux has
ETIMEDOUT 110, EINPROGRESS 115, EHOSTUNREACH 113, ENOTCONN 107."""

ERRNO_EXTRA = {"EISCONN": 127, "EAFNOSUPPORT": 106, "EPROTOTYPE": 107}
"""Numbers the ports raise that the ``errno`` module has no name for (newlib)."""


class ReleaseLine(NamedTuple):
    name: str
    """``"10.x"``: the line a drive's boot_out.txt names and the .mpy format follows."""
    first: tuple[int, int, int]
    getenv_unquoted_non_int: str
    """What ``os.getenv`` does with an unquoted value that is not an integer
    (``KEY = 3.27``): ``"ValueError"`` or ``"str"`` (returns the text).

    The two behaviours go further. ``"ValueError"`` (9.0 to 10.1): a quoted value is a str,
    a bare one is parsed as an integer (an int, or ValueError), a malformed line raises
    ValueError ("Invalid byte ..."). ``"str"`` (10.2 on): every value is returned as its
    text (a bare one without trailing blanks), and a line it cannot read gives the default."""


RELEASE_LINES = (
    ReleaseLine("9.x", (9, 0, 0), "ValueError"),
    ReleaseLine("10.0-10.1", (10, 0, 0), "ValueError"),
    ReleaseLine("10.2+", (10, 2, 0), "str"),
)
RELEASE_SOURCES = {
    "getenv_unquoted_non_int": "9.0.0 to 10.1.x: shared-module/os/getenv.c, the same parser at "
    "9.2.9, 10.0.0 and 10.1.4 (common_hal_os_getenv_path: quoted -> str, else "
    "mp_parse_num_integer(..., base 0), which raises ValueError 'invalid syntax for integer "
    "with base 10'; handle_getenv_error raises ValueError for a malformed value). 10.2.0: that "
    "file is gone (commit 4b2111e 'os.getenv() now always returns str'): "
    "shared-module/os/__init__.c common_hal_os_getenv returns settings_get_raw_vstr's text "
    "(supervisor/shared/settings.c) or the default on any error",
}


def release_line(version: tuple[int, int, int]) -> ReleaseLine:
    """The release line a CircuitPython version belongs to."""
    found = None
    for line in RELEASE_LINES:
        if version >= line.first:
            found = line
    if found is None:
        raise ValueError(f"CircuitPython {version} is older than every supported release line")
    return found
