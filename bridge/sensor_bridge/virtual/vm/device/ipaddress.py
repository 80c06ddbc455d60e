"""``ipaddress.IPv4Address`` (shared-bindings/ipaddress/IPv4Address.c), as far as the
radio's addresses need it: it prints as dotted quads and compares by value."""


class IPv4Address:
    def __init__(self, address):
        self._text = str(address)

    def __str__(self):
        return self._text

    def __repr__(self):
        return "IPv4Address('%s')" % self._text

    def __eq__(self, other):
        return isinstance(other, IPv4Address) and other._text == self._text

    def __hash__(self):
        return hash(self._text)
