"""Adafruit QT Py ESP32-S2: pins and numbers for the sensor node (wiring: boards/README.md)."""

import board

BOARD_ID = "adafruit_qtpy_esp32s2"

# The SCK/MO/MI pads (GPIO36/35/37).
SPI_SCK = board.SCK
SPI_MOSI = board.MOSI
SPI_MISO = board.MISO
# A1 (GPIO17) is on ADC2: free for a digital output, useless for analog with Wi-Fi on.
THERMOCOUPLE_CS = board.A1

# A2 is GPIO9, ADC1 channel 8. A0 and A1 are on ADC2, which Wi-Fi takes over.
FLAME_ADC = board.A2
# CircuitPython scales the calibrated millivolts so that 65535 counts are 3.3 V; the
# ESP32-S2 input saturates near 2.6 V, so keep the divided signal under 2.5 V.
ADC_VOLTS_PER_COUNT = 3.3 / 65535

STATUS_NEOPIXEL = board.NEOPIXEL
# Switches the NeoPixel's supply: drive it high or the pixel stays dark.
NEOPIXEL_POWER = board.NEOPIXEL_POWER
STATUS_LED = None

# The ESP32 task watchdog takes any timeout; 20 s rides out a slow Wi-Fi association.
WATCHDOG_MAX_S = 20.0
# 2 MB PSRAM: 8640 readings hold 12 hours at the 5 s default period.
DEFAULT_BUFFER_CAPACITY = 8640
