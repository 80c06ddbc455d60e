"""
`sensor_node.status_led`
================================================================================
The node's state at a glance: a colour on a NeoPixel, or a blink pattern on a plain LED.

=============  ===========  ==========================
state          NeoPixel     plain LED
=============  ===========  ==========================
CONNECTING     blue         1 Hz, half on
ONLINE         green        steady on
OFFLINE        amber        short blip every 2 s
SENSOR_FAULT   red          fast 4 Hz blink
CONFIG_ERROR   magenta      2 Hz blink
=============  ===========  ==========================

``choose_state`` ranks them: a configuration error, then a sensor fault, then whether
readings are published (online), buffered (offline) or not yet taken (connecting).
"""

try:
    from typing import Any, Optional
except ImportError:
    pass

CONNECTING = 0
ONLINE = 1
OFFLINE = 2
SENSOR_FAULT = 3
CONFIG_ERROR = 4

COLOURS = ((0, 0, 255), (0, 255, 0), (255, 110, 0), (255, 0, 0), (255, 0, 255))
"""(r, g, b) per state."""

BLINKS = ((1000, 500), (1000, 1000), (2000, 150), (250, 125), (500, 250))
"""(period ms, on ms) per state."""


def choose_state(config_error: bool, sensor_fault: bool, online: bool, buffered: bool) -> int:
    """The state to show."""
    if config_error:
        return CONFIG_ERROR
    if sensor_fault:
        return SENSOR_FAULT
    if online:
        return ONLINE
    if buffered:
        return OFFLINE
    return CONNECTING


class StatusLed:
    """``pixel`` is a NeoPixel strip (pixel 0 is used), ``led`` a DigitalInOut output;
    either may be None. ``power`` (the NeoPixel power pin, driven high) is only held, so
    that it stays driven. Writes only when what shows changes."""

    def __init__(
        self,
        pixel: "Optional[Any]" = None,
        led: "Optional[Any]" = None,
        power: "Optional[Any]" = None,
    ) -> None:
        self._pixel = pixel
        self._led = led
        self._power = power
        self._state = -1
        self._lit: Optional[bool] = None

    def show(self, state: int, now_ms: int) -> None:
        """Show ``state`` at uptime ``now_ms`` (the plain LED's blink phase)."""
        if self._pixel is not None and state != self._state:
            self._pixel[0] = COLOURS[state]
        self._state = state
        if self._led is not None:
            period, on = BLINKS[state]
            lit = now_ms % period < on
            if lit != self._lit:
                self._led.value = lit
                self._lit = lit
