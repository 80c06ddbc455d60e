"""CircuitPython-style enum values: singletons whose ``str()`` is their qualified name.

CircuitPython has no ``enum``; its enum-like classes hold objects that print as
``microcontroller.ResetReason.WATCHDOG``. Firmware parses that text, so it must match.
"""


class EnumValue:
    """One member of an enum-like class; compared by identity, like on the device."""

    __slots__ = ("name", "qualname")

    def __init__(self, owner: str, name: str) -> None:
        self.name = name
        self.qualname = owner + "." + name

    def __repr__(self) -> str:
        return self.qualname

    __str__ = __repr__


def member(cls: type, name: str) -> EnumValue:
    """The member ``name`` of an enum-like class; KeyError names the class when unknown."""
    value = vars(cls).get(name)
    if not isinstance(value, EnumValue):
        raise KeyError(f"{cls.__name__} has no member {name!r}")
    return value
