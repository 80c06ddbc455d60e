"""``rtc``: the board's real-time clock, the one ``time.time()`` reads
(shared-bindings/rtc/RTC.c; it is a singleton)."""

import time


class RTC:
    calibration = 0

    def __new__(cls):
        return _rtc

    @property
    def datetime(self):
        return time.localtime()

    @datetime.setter
    def datetime(self, value):
        time.set_rtc(time.mktime(value))


_rtc = object.__new__(RTC)


def set_time_source(rtc):
    """Only the board's own RTC exists here."""
