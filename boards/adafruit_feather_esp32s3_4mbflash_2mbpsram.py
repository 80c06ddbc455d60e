"""Adafruit Feather ESP32-S3 4MB Flash 2MB PSRAM: pins and numbers for the sensor node
(wiring: boards/README.md)."""

import board

BOARD_ID = "adafruit_feather_esp32s3_4mbflash_2mbpsram"

# The SPI header pins (GPIO36/35/37).
SPI_SCK = board.SCK
SPI_MOSI = board.MOSI
SPI_MISO = board.MISO
THERMOCOUPLE_CS = board.D5

# A5 is GPIO8, ADC1 channel 7. A0..A4 are GPIO14..18 on ADC2, which Wi-Fi takes over.
FLAME_ADC = board.A5
# CircuitPython scales the calibrated millivolts so that 65535 counts are 3.3 V; the
# ESP32-S3 input saturates near 3.1 V, so keep the divided signal under 3.0 V.
ADC_VOLTS_PER_COUNT = 3.3 / 65535

STATUS_NEOPIXEL = board.NEOPIXEL
# Switches the NeoPixel's supply: drive it high or the pixel stays dark.
NEOPIXEL_POWER = board.NEOPIXEL_POWER
STATUS_LED = None

# The ESP32 task watchdog takes any timeout; 20 s rides out a slow Wi-Fi association.
WATCHDOG_MAX_S = 20.0
# 2 MB PSRAM: 8640 readings hold 12 hours at the 5 s default period.
DEFAULT_BUFFER_CAPACITY = 8640
