"""The alerts' names and routing labels, defined once.

The rules (``alerting.rules``) name their alerts and set their labels from here, and
Alertmanager's routes and inhibitions (``render.alertmanager``) match on the same constants:
a renamed alert can never silently fall out of its route or inhibition.

Routing is on the ``type`` label: ``shop`` pages the studio owner, ``system`` pages support.
The heartbeat alert always fires and is routed on its name to IRM's heartbeat URL.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPE_LABEL = "type"
SHOP = "shop"
"""The furnace itself: the owner is paged."""
SYSTEM = "system"
"""The machinery that watches the furnace: support is paged."""

STUDIO_LABEL = "studio"
DEVICE_LABEL = "device"
SERVICE_LABEL = "service"
"""Which service a ``SERVICE_DOWN`` alert is about."""

# Shop alerts.
FURNACE_TOO_HOT = "FurnaceTooHot"
FURNACE_TOO_COLD = "FurnaceTooCold"
FLAME_OUT = "FlameOut"
FLAME_ERRATIC = "FlameErratic"
NO_DATA = "DeviceNoData"
THERMOCOUPLE_FAULT = "ThermocoupleFault"

# System alerts.
DEVICE_REBOOTED = "DeviceRebooted"
DEVICE_BUFFER_DROPPING = "DeviceBufferDropping"
DEVICE_CLOCK_INVALID = "DeviceClockInvalid"
PIPELINE_STALLED = "PipelineStalled"
DEAD_LETTERS = "DeadLettersHigh"
STORE_IGNORING = "StoreIgnoringSamples"
SERVICE_DOWN = "ServiceDown"
DISK_NEARLY_FULL = "DiskNearlyFull"
PI_OVERHEATING = "PiOverheating"
PI_LOW_MEMORY = "PiLowMemory"

HEARTBEAT = "Heartbeat"
"""Always firing: IRM pages support when its repeats stop (the Pi or the alerting is dead)."""

SHOP_ALERTS = (
    FURNACE_TOO_HOT,
    FURNACE_TOO_COLD,
    FLAME_OUT,
    FLAME_ERRATIC,
    NO_DATA,
    THERMOCOUPLE_FAULT,
)
SYSTEM_ALERTS = (
    DEVICE_REBOOTED,
    DEVICE_BUFFER_DROPPING,
    DEVICE_CLOCK_INVALID,
    PIPELINE_STALLED,
    DEAD_LETTERS,
    STORE_IGNORING,
    SERVICE_DOWN,
    DISK_NEARLY_FULL,
    PI_OVERHEATING,
    PI_LOW_MEMORY,
)


@dataclass(frozen=True)
class Inhibition:
    """While ``source`` fires, ``targets`` with the same ``equal`` labels send nothing."""

    source: str
    targets: tuple[str, ...]
    equal: tuple[str, ...]
    why: str


_SAME_DEVICE = (STUDIO_LABEL, DEVICE_LABEL)
INHIBITIONS = (
    Inhibition(
        NO_DATA,
        (FLAME_OUT, FURNACE_TOO_COLD),
        _SAME_DEVICE,
        "a silent device is one page, not also a flame out and a cold furnace",
    ),
    Inhibition(
        THERMOCOUPLE_FAULT,
        (FURNACE_TOO_HOT, FURNACE_TOO_COLD),
        _SAME_DEVICE,
        "a broken thermocouple reads nonsense: its temperature alerts mean nothing",
    ),
    Inhibition(
        PIPELINE_STALLED,
        (NO_DATA,),
        _SAME_DEVICE,
        "the device is online but its data is stuck on the Pi: support's problem, not the owner's",
    ),
)
