"""The watchdog: ``microcontroller.watchdog`` and the monitor that enforces it.

Expiry is virtual time since the last feed above the timeout. The monitor prints one
line, ``VIRTUAL watchdog expired after X.XXX s (timeout Y s)``, to stderr and then, by the
run's ``--watchdog`` policy, fails the run (exit 70) or does what the hardware does: a
WATCHDOG reset in RESET mode, ``watchdog.WatchDogTimeout`` raised in the program in RAISE
mode (ESP32 only; RP2040/RP2350 have no RAISE).

Changing the timeout once the timer runs does what the port does
(``families.PortFamily.watchdog_timeout_change_when_armed``): raspberrypi re-enables the
timer with it; espressif reconfigures the task watchdog and then fails to subscribe the task
a second time: ``espidf.IDFError: Invalid argument``, with the new timeout in force.
"""

import ctypes
import os
import sys
import threading
import time as _real_time
from collections.abc import Callable

from sensor_bridge.virtual.clock import VirtualClock
from sensor_bridge.virtual.enums import EnumValue
from sensor_bridge.virtual.espidf import IDFError
from sensor_bridge.virtual.families import RASPBERRYPI, PortFamily

EXIT_WATCHDOG_FAILED = 70
POLL_S = 0.005


class WatchDogMode:
    RAISE = EnumValue("watchdog.WatchDogMode", "RAISE")
    RESET = EnumValue("watchdog.WatchDogMode", "RESET")


class WatchDogTimeout(Exception):
    """Raised in the program when the watchdog expires in RAISE mode."""


class WatchDogTimer:
    def __init__(
        self,
        clock: VirtualClock,
        *,
        max_timeout_s: float | None,
        can_raise: bool,
        family: PortFamily = RASPBERRYPI,
    ):
        """``family`` decides what a timeout change does while armed; the default's change
        raises nothing (for a host that only keeps the time)."""
        self._clock = clock
        self._max = max_timeout_s
        self._can_raise = can_raise
        self._family = family
        self._lock = threading.Lock()
        self._timeout = 0.0
        self._mode: EnumValue | None = None
        self._last_feed = 0.0
        self.feeds = 0
        self.max_gap_s = 0.0
        self.on_feed: Callable[[], None] | None = None
        """Called after every feed: one per main-loop iteration (allocation probe)."""

    @property
    def timeout(self) -> float:
        return self._timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        value = float(value)
        if value <= 0:
            raise ValueError("timeout must be greater than 0")
        if self._max is not None and value > self._max:
            raise ValueError(f"timeout must be <= {self._max}")
        with self._lock:
            self._timeout = value
            self._last_feed = self._clock.uptime()
            armed = self._mode is not None
        if armed and self._family.watchdog_timeout_change_when_armed == "espidf.IDFError":
            raise IDFError("Invalid argument")

    @property
    def mode(self) -> EnumValue | None:
        return self._mode

    @mode.setter
    def mode(self, value: EnumValue | None) -> None:
        if value is None:
            self.deinit()
            return
        if value not in (WatchDogMode.RAISE, WatchDogMode.RESET):
            raise TypeError("mode must be a WatchDogMode")
        if value is WatchDogMode.RAISE and not self._can_raise:
            raise NotImplementedError("RAISE mode is not supported on this board")
        if self._timeout <= 0:
            raise ValueError("WatchDogTimer.timeout must be greater than 0")
        with self._lock:
            self._mode = value
            self._last_feed = self._clock.uptime()

    def feed(self) -> None:
        with self._lock:
            if self._mode is None:
                return
            now = self._clock.uptime()
            self.max_gap_s = max(self.max_gap_s, now - self._last_feed)
            self._last_feed = now
            self.feeds += 1
        if self.on_feed is not None:
            self.on_feed()

    def deinit(self) -> None:
        with self._lock:
            self._mode = None

    def overdue(self) -> float | None:
        """Seconds since the last feed when past the timeout (and disarms), else None."""
        with self._lock:
            if self._mode is None:
                return None
            gap = self._clock.uptime() - self._last_feed
            if gap <= self._timeout:
                return None
            self.max_gap_s = max(self.max_gap_s, gap)
            return gap

    def status(self) -> dict[str, object]:
        with self._lock:
            gap = self._clock.uptime() - self._last_feed if self._mode is not None else 0.0
            return {
                "timeout": self._timeout,
                "mode": None if self._mode is None else self._mode.name,
                "max_gap_s": round(max(self.max_gap_s, gap), 3),
                "feeds": self.feeds,
            }


class WatchdogMonitor:
    """Background thread: watches ``wdt`` and acts on expiry."""

    def __init__(
        self,
        wdt: WatchDogTimer,
        *,
        policy: str,
        reset: Callable[[], None],
        main_thread: threading.Thread,
    ) -> None:
        if policy not in ("fail", "reset"):
            raise ValueError(f"watchdog policy must be 'fail' or 'reset', got {policy!r}")
        self._wdt = wdt
        self._policy = policy
        self._reset = reset
        self._main = main_thread
        self._thread = threading.Thread(target=self._run, name="virtual-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            _real_time.sleep(POLL_S)
            gap = self._wdt.overdue()
            if gap is not None:
                self._expire(gap)

    def _expire(self, gap: float) -> None:
        mode = self._wdt.mode
        sys.stdout.flush()
        print(
            f"VIRTUAL watchdog expired after {gap:.3f} s (timeout {self._wdt.timeout:g} s)",
            file=sys.stderr,
            flush=True,
        )
        if self._policy == "fail":
            os._exit(EXIT_WATCHDOG_FAILED)
        if mode is WatchDogMode.RAISE:
            self._wdt.deinit()
            _raise_in(self._main, WatchDogTimeout)
            return
        self._reset()


def _raise_in(thread: threading.Thread, exception: type[BaseException]) -> None:
    """Raise ``exception`` asynchronously in ``thread`` (at its next bytecode)."""
    ident = thread.ident
    if ident is None:
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exception))
