"""``digitalio`` (shared-bindings/digitalio/DigitalInOut.c): one GPIO, an input without pull
at first. An output level goes to the host's wiring (a chip select, an LED, a supply
switch); an input level comes from it."""

from _vboard import Members, call, claim, release, send

Direction = Members("digitalio.Direction", "INPUT OUTPUT")
Pull = Members("digitalio.Pull", "UP DOWN")
DriveMode = Members("digitalio.DriveMode", "PUSH_PULL OPEN_DRAIN")
DEINITIALIZED = "Object has been deinitialized."


class DigitalInOut:
    def __init__(self, pin):
        self._pin = claim(pin)
        self._output = False
        self._level = False
        self._pull = None
        self._drive_mode = DriveMode.PUSH_PULL

    @property
    def pin(self):
        self._check()
        return self._pin

    def _check(self):
        if self._pin is None:
            raise ValueError(DEINITIALIZED)

    def deinit(self):
        if self._pin is not None:
            if self._output:
                # Released, the line floats; the breakouts' pull-ups take it high.
                send("pin", self._pin.name, True)
            release(self._pin)
            self._pin = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()

    def switch_to_output(self, value=False, drive_mode=DriveMode.PUSH_PULL):
        pin = self.pin
        self._output = True
        self._drive_mode = drive_mode
        self._pull = None
        self._level = bool(value)
        send("pin", pin.name, self._level)

    def switch_to_input(self, pull=None):
        pin = self.pin
        was_output = self._output
        self._output = False
        self._pull = pull
        if was_output:
            send("pin", pin.name, True)

    @property
    def direction(self):
        self._check()
        return Direction.OUTPUT if self._output else Direction.INPUT

    @direction.setter
    def direction(self, value):
        if value is Direction.OUTPUT:
            self.switch_to_output()
        elif value is Direction.INPUT:
            self.switch_to_input()
        else:
            raise ValueError("Invalid direction.")

    @property
    def value(self):
        pin = self.pin
        if self._output:
            return self._level
        level = call("pin_level", pin.name)
        return self._pull is Pull.UP if level is None else level

    @value.setter
    def value(self, value):
        pin = self.pin
        if not self._output:
            raise AttributeError("Cannot set value when direction is input.")
        self._level = bool(value)
        send("pin", pin.name, self._level)

    @property
    def pull(self):
        self._check()
        if self._output:
            raise AttributeError("Pull not used when direction is output.")
        return self._pull

    @pull.setter
    def pull(self, pull):
        self._check()
        if self._output:
            raise AttributeError("Pull not used when direction is output.")
        self._pull = pull

    @property
    def drive_mode(self):
        self._check()
        if not self._output:
            raise AttributeError("Drive mode not used when direction is input.")
        return self._drive_mode

    @drive_mode.setter
    def drive_mode(self, mode):
        self._check()
        if not self._output:
            raise AttributeError("Drive mode not used when direction is input.")
        self._drive_mode = mode
