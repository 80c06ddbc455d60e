"""
`sensor_node.health`
================================================================================
The figures behind the ``health`` payload that the loop and the sensors update as they
go; ``report`` turns them into the contract's health fields.
"""

from sensor_protocol.limits import MAX_TEXT_LENGTH
from sensor_protocol.wire import RSSI_DBM_MAX, RSSI_DBM_MIN

try:
    from typing import Any, Dict, Optional
except ImportError:
    pass


class Health:
    """Maxima since the last report and counters since boot."""

    def __init__(self) -> None:
        self.max_loop_ms = 0
        """Longest gap between two watchdog feeds since the last report."""
        self.max_read_ms = 0
        """Longest thermocouple conversion since the last report."""
        self.tc_faults = 0
        """Conversions with any raw fault bit, since boot."""

    def loop_took(self, ms: int) -> None:
        """One loop iteration (watchdog feed to feed) took ``ms``."""
        self.max_loop_ms = max(self.max_loop_ms, ms)

    def read_took(self, ms: int) -> None:
        """One thermocouple conversion took ``ms``."""
        self.max_read_ms = max(self.max_read_ms, ms)

    # Positional: keywords would make the node's call to it 16 bytes longer, kept in RAM while
    # it runs (tests/integration/vm/test_vm_heap.py).
    def report(  # noqa: PLR0917
        self,
        uptime_ms: int,
        mem_free: int,
        rssi: "Optional[int]",
        link: "Any",
        buffer: "Any",
        clock_valid: bool,
    ) -> "Dict[str, Any]":
        """The health fields; starts a new period for the maxima."""
        if rssi is not None and (rssi < RSSI_DBM_MIN or rssi > RSSI_DBM_MAX):
            rssi = None
        last_error = link.last_error
        if last_error is not None:
            last_error = last_error[:MAX_TEXT_LENGTH]
        fields = {
            "uptime_s": uptime_ms // 1000,
            "mem_free": mem_free,
            "rssi": rssi,
            "reconnects": link.reconnects,
            "radio_restarts": link.radio_restarts,
            "last_error": last_error or None,
            "max_loop_s": self.max_loop_ms / 1000,
            "read_s": self.max_read_ms / 1000,
            "tc_faults": self.tc_faults,
            "buffer_depth": len(buffer),
            "buffer_capacity": buffer.capacity,
            "buffer_drops": buffer.drops,
            "clock_valid": clock_valid,
        }
        self.max_loop_ms = 0
        self.max_read_ms = 0
        return fields
