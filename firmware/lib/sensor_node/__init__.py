"""
`sensor_node`
================================================================================
The furnace sensor node: samples a MAX31856 thermocouple and a flame-rod voltage, keeps
readings in RAM while the broker is out of reach, and publishes them over MQTT.

Hardware and network objects are injected (``sensor_node.app`` composes them on a board),
so every module also runs on CPython under test. CircuitPython subset only: no runtime
``typing``, ``enum`` or ``dataclasses``; intervals come from ``adafruit_ticks``.

* ``settings``: the settings table, validation, ``settings.toml.example``.
* ``console``: one parseable line per event.
* ``timing``: uptime past the ticks wrap, deadlines.
* ``clock``: wall clock from NTP, its validity.
* ``max31856``: the MAX31856's registers, in the one mode the node runs it.
* ``thermocouple``: non-blocking MAX31856 one-shot, faults and their debounce.
* ``flame``: oversampled, median-filtered flame-rod voltage.
* ``ring_buffer``: the store-and-forward buffer of readings.
* ``backoff``: capped exponential backoff with jitter.
* ``recovery``: when to restart the radio or reset the board.
* ``link``: Wi-Fi and MQTT, every blocking call bounded.
* ``health``: the counters behind the health payload.
* ``status_led``: the state on a NeoPixel or a plain LED.
* ``persist``: what survives a reset, in ``microcontroller.nvm``.
* ``node``: the main loop.
* ``app``: composition on a real (or virtual) board, the catch-all.
"""

__version__ = "0.1.0"
"""Firmware version, reported at boot and in the birth message."""
