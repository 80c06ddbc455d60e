"""The ``board`` module the VM imports: the board's pins (``pins.BoardSpec``) as source.

Written per run into the state directory. Aliases are one object, as in CircuitPython's
pins.c of each board (``board.GP26 is board.A0``); a board with SCK/MOSI/MISO has the
``board.SPI()`` singleton (shared-bindings/board/__init__.c).
"""

from sensor_bridge.virtual.pins import BoardSpec, Pin

_DEFAULT_SPI = '''

_spi = None


def SPI():
    """The board's default SPI bus, made once."""
    global _spi
    if _spi is None:
        import busio

        _spi = busio.SPI(SCK, MOSI, MISO)
    return _spi
'''


def board_source(spec: BoardSpec) -> str:
    names: dict[Pin, list[str]] = {}
    for name, pin in spec.pins.items():
        names.setdefault(pin, []).append(name)
    lines = [
        f'"""Board pins of {spec.board_id} (sensor_bridge.virtual.vm.board_module)."""',
        "",
        "from microcontroller import Pin",
        "",
        f"board_id = {spec.board_id!r}",
    ]
    for pin, aliases in names.items():
        lines.append(" = ".join(aliases) + f" = Pin({pin.name!r}, {pin.adc})")
    text = "\n".join(lines) + "\n"
    if {"SCK", "MOSI", "MISO"} <= spec.pins.keys():
        text += _DEFAULT_SPI
    return text
