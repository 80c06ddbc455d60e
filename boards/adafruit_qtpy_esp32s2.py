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

# The ESP32 task watchdog takes any timeout. The longest blocking step is the Wi-Fi join,
# which its timeout does not bound: up to the 5 s timeout plus one association attempt the
# driver runs to its end (about 14.4 s), 19.4 s (sensor_node.link); both leave a margin.
WATCHDOG_MAX_S = 30.0
WATCHDOG_MIN_S = 25.0
# radio.enabled = False stops the radio (esp_wifi_stop): a restart can recover it.
RADIO_RESTART = True
# 2 MB PSRAM: 8640 readings hold 12 hours at the 5 s default period.
DEFAULT_BUFFER_CAPACITY = 8640
TLS = True
