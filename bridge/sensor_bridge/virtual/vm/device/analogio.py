"""``analogio.AnalogIn`` (shared-bindings/analogio/AnalogIn.c): a reading is the host's
(the furnace's flame signal through the divider, turned into counts as the board's port
does: ``sensor_bridge.virtual.analog``); one round trip per ``value``."""

from _vboard import call, claim, release


class AnalogIn:
    def __init__(self, pin):
        if type(pin).__name__ != "Pin":
            raise TypeError("pin must be a Pin, not " + type(pin).__name__)
        if not pin.adc:
            raise ValueError(pin.name + " does not have ADC capabilities")
        self._pin = claim(pin)

    def deinit(self):
        if self._pin is not None:
            release(self._pin)
            self._pin = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()

    @property
    def value(self):
        if self._pin is None:
            raise ValueError("Object has been deinitialized.")
        return call("adc", self._pin.name)

    @property
    def reference_voltage(self):
        return 3.3
