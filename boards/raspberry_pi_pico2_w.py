"""Raspberry Pi Pico 2 W: pins and numbers for the sensor node (wiring: boards/README.md)."""

import board

BOARD_ID = "raspberry_pi_pico2_w"

# SPI0 on its default pins, as on the Pico W.
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

# CircuitPython's RP2 watchdog limit, the same on the RP2350 as on the RP2040.
WATCHDOG_MAX_S = 8.0
# The longest blocking step is the Wi-Fi join: its timeout (5 s) plus leaving the old
# network (up to 0.5 s), ports/raspberrypi/common-hal/wifi/Radio.c.
WATCHDOG_MIN_S = 8.0
# radio.enabled = False only leaves the network ("TODO: Actually enable and disable the
# WiFi module", ports/raspberrypi/common-hal/wifi/Radio.c): a restart cannot recover the CYW43.
RADIO_RESTART = False
# 520 KB SRAM (about four times the Pico W's free heap): 4000 readings, 5.5 hours at 5 s.
DEFAULT_BUFFER_CAPACITY = 4000
# TLS keeps over 200 kB free beside the full buffer (README, "Boards and TLS").
TLS = True
