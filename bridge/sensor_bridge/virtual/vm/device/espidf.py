"""``espidf`` (ports/espressif/bindings/espidf/__init__.c): its exceptions, for the
errors the espressif port raises (``raise_esp_error``: ESP_ERR_INVALID_ARG is
``IDFError('Invalid argument')``). Only the espressif port has the module."""

from _vboard import config

if config["family"] != "espressif":
    raise ImportError("no module named 'espidf'")


class IDFError(OSError):
    """Raised when an ESP-IDF function returns an error code."""


class MemoryError(MemoryError):  # the binding's own name
    """Raised when an ESP-IDF memory allocation fails."""
