"""Raspberry Pi Pico W: pins and numbers for the sensor node (wiring: boards/README.md)."""

import board

BOARD_ID = "raspberry_pi_pico_w"

# SPI0 on its default pins.
SPI_SCK = board.GP18
SPI_MOSI = board.GP19
SPI_MISO = board.GP16
THERMOCOUPLE_CS = board.GP17

# ADC0. GPIO29 (A3) is not usable: it measures VSYS and is shared with the radio's SPI.
FLAME_ADC = board.GP26
ADC_VOLTS_PER_COUNT = 3.3 / 65535

STATUS_NEOPIXEL = None
NEOPIXEL_POWER = None
# The green LED on the CYW43 radio chip.
STATUS_LED = board.LED

# RP2040 hardware maximum (8.39 s) rounded down.
WATCHDOG_MAX_S = 8.0
# The longest blocking step is the Wi-Fi join: its timeout (5 s) plus leaving the old
# network (up to 0.5 s), ports/raspberrypi/common-hal/wifi/Radio.c.
WATCHDOG_MIN_S = 8.0
# radio.enabled = False only leaves the network ("TODO: Actually enable and disable the
# WiFi module", ports/raspberrypi/common-hal/wifi/Radio.c): a restart cannot recover the CYW43.
RADIO_RESTART = False
# About 126 KB free at code.py start: 760 readings (18 bytes each, 13.7 kB) cover an hour at
# the 5 s default period plus the reconnect after it (an hour's outage ends with the recovery
# ladder's backoff), and leave 40 kB free on plain MQTT. Not enough for TLS: its handshake
# needs one contiguous 16.7 kB block, which this heap does not keep (README, "Boards and
# TLS"; docs/firmware-memory.md has the figures).
DEFAULT_BUFFER_CAPACITY = 760
# No room for TLS beside that buffer (above).
TLS = False
