"""``espidf`` on the espressif boards (ports/espressif/bindings/espidf/__init__.c): the
exceptions ``raise_esp_error`` (common-hal/espidf/__init__.c) turns ESP-IDF error codes into.
The raspberrypi boards have no such module."""

import builtins
import types


class IDFError(builtins.OSError):
    """Raised when an ESP-IDF function returns an error code (ESP_ERR_INVALID_ARG:
    ``IDFError('Invalid argument')``)."""


class MemoryError(builtins.MemoryError):  # the binding's own name
    """Raised when an ESP-IDF memory allocation fails."""


IDFError.__module__ = MemoryError.__module__ = "espidf"


def build_espidf() -> types.ModuleType:
    module = types.ModuleType("espidf", "ESP-IDF errors (virtual board).")
    module.__dict__.update(IDFError=IDFError, MemoryError=MemoryError)
    return module
