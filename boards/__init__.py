"""
`boards`
================================================================================
One module per supported board, named by ``board.board_id``. A board module holds pins
and numbers only, no logic:

* ``BOARD_ID``: the ``board.board_id`` the module is for.
* ``SPI_SCK``, ``SPI_MOSI``, ``SPI_MISO``: the SPI bus to the MAX31856.
* ``THERMOCOUPLE_CS``: the MAX31856 chip select.
* ``FLAME_ADC``: the flame-rod signal input (an ADC1 pin on ESP32 boards).
* ``ADC_VOLTS_PER_COUNT``: ``analogio.AnalogIn.value`` counts to volts at the pin.
* ``STATUS_NEOPIXEL``, ``NEOPIXEL_POWER``: the on-board NeoPixel and its power switch, or None.
* ``STATUS_LED``: a plain LED when the board has no NeoPixel, else None.
* ``WATCHDOG_MAX_S``, ``WATCHDOG_MIN_S``: the watchdog timeouts the firmware allows; the
  shortest still covers the board's longest blocking step (its Wi-Fi join).
* ``RADIO_RESTART``: whether ``wifi.radio.enabled = False`` really stops the radio, so that
  the recovery ladder's "restart the radio" step can recover it (False on the Pico boards).
* ``DEFAULT_BUFFER_CAPACITY``: store-and-forward readings that fit the board's free RAM.
* ``TLS``: whether the heap also has room for a TLS session beside that buffer (False on the
  Pico W: README, "Boards and TLS"); the site file refuses ``tls = true`` on a board without.

Wiring for each board is in ``boards/README.md``.
"""
