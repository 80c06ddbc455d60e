"""``watchdog``: the modes and the timer behind ``microcontroller.watchdog``.

The host enforces the timeout: it is told the timeout and mode whenever they change and
each feed, and when feeds stop it ends this VM and boots the next with reset reason
WATCHDOG. What the port does on a change follows the family row the host sent
(``sensor_bridge.virtual.families``): ports/raspberrypi/common-hal/watchdog/
WatchDogTimer.c (at most 8 s, no RAISE mode), ports/espressif/common-hal/watchdog/
WatchDogTimer.c (a second ``esp_task_wdt_add`` for the subscribed task once armed:
espidf.IDFError). RAISE mode is not emulated here: the host cannot raise inside the VM.
"""

from _vboard import Members, config, send

WatchDogMode = Members("watchdog.WatchDogMode", "RAISE RESET")


class WatchDogTimeout(Exception):
    """Raised in RAISE mode when the timer expires."""


class WatchDogTimer:
    def __init__(self):
        self._timeout = 0.0
        self._mode = None

    @property
    def timeout(self):
        return self._timeout

    @timeout.setter
    def timeout(self, value):
        value = float(value)
        # shared-bindings/watchdog/WatchDogTimer.c: mp_arg_validate_int_min(timeout, 0)
        if int(value) < 0:
            raise ValueError("timeout must be >= 0")
        limit = config["watchdog_max_int_s"]
        if int(value) > limit:
            raise ValueError("timeout must be <= %d" % limit)
        self._timeout = value
        if self._mode is not None:
            # espressif reconfigures the timer before its add fails: the new timeout holds.
            send("watchdog", value, "RESET")
            self._rearm()

    @property
    def mode(self):
        return self._mode

    @mode.setter
    def mode(self, mode):
        if mode is self._mode:
            return
        if mode is None:
            self.deinit()
            return
        if mode is WatchDogMode.RAISE:
            if not config["watchdog_raise"]:
                raise NotImplementedError()
            raise NotImplementedError("watchdog RAISE mode is not emulated on the vm engine")
        if mode is not WatchDogMode.RESET:
            raise TypeError("mode must be WatchDogMode")
        if self._mode is not None:
            self._rearm()
        self._mode = mode
        send("watchdog", self._timeout, "RESET")

    def _rearm(self):
        # espressif wdt_config: esp_task_wdt_add for a task already subscribed fails.
        failure = config["watchdog_rearm_error"]
        if failure != "ok":
            import espidf

            raise espidf.IDFError("Invalid argument")

    def feed(self):
        if self._mode is not None:
            send("feed")

    def deinit(self):
        if self._mode is not None:
            self._mode = None
            send("watchdog", self._timeout, None)
