"""CircuitPython's ``OSError``: the errno is set and the type stays ``OSError``.

CPython turns ``OSError(110, ...)`` into ``TimeoutError`` (and ECONNREFUSED into
``ConnectionRefusedError``...); CircuitPython has no such mapping, so code that catches
``TimeoutError`` around a socket works here only if it works on the board: it does not.
"""

import builtins


# Named OSError on purpose: type(error).__name__ is what firmware logs and tracebacks show.
class OSError(builtins.OSError):
    """An OSError that CPython's constructor does not re-type."""
