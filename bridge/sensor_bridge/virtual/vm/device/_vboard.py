"""The board side of the channel to the host (``sensor_bridge.virtual.vm.channel``).

One TCP loopback connection, opened by ``vboard_main`` before code.py; one JSON value per
line. A request that needs an answer (``call``) waits for its reply line, ``=value`` or
``E[type, message]``; the others (``send``) are not answered, and the single stream keeps
them in order with the calls. Lines starting with ``!`` are pushed by the host: the network
whenever it changes (``["net", link, delay_s]``, as ``NetEnvironment.link`` says), and a
request for the heap after a collection (``["heap"]``, answered with a ``heap`` message);
``poll`` takes them without blocking, and every socket and radio call polls.

Also here, so each emulated module stays small: the boot configuration the host sent
(``config``), the time since boot (``uptime``), CircuitPython's enum values (``Enum``) and
the pin claims (``claim``).
"""

import json
import select
import socket
import sys

# The VM's own time module: with sys.path empty an import reaches the built-in, not the
# time.py beside this file (py/builtinimport.c: extensible built-ins).
_path = sys.path[:]
sys.path.clear()
try:
    import time as builtin_time
finally:
    sys.path.extend(_path)

ticks_ms = builtin_time.ticks_ms
ticks_diff = builtin_time.ticks_diff

config = {}
link = "down"
"""The network as the board sees it: up, down, blackhole, refuse or slow."""
delay_s = 0.0
on_link = None
"""Called as ``on_link(old, new)`` when the link changes (socketpool breaks its sockets)."""
_stream = None
_poller = None
_ERRORS = {
    "ValueError": ValueError,
    "RuntimeError": RuntimeError,
    "ConnectionError": ConnectionError,
    "NotImplementedError": NotImplementedError,
}


def open_channel(port, token):
    """Connect to the host and read the boot configuration."""
    global _stream, _poller
    stream = socket.socket()
    stream.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    _stream = stream
    _poller = select.poll()
    _poller.register(stream, select.POLLIN)
    config.update(call("hello", token))
    set_link(config["link"], config["delay_s"])


def send(*message):
    """A message the host does not answer."""
    _stream.write(json.dumps(message) + "\n")


def call(*message):
    """A request; returns the host's answer or raises the exception it names."""
    send(*message)
    while True:
        line = _readline()
        kind = line[0]
        if kind == 61:  # "="
            return json.loads(line[1:])
        if kind == 69:  # "E"
            name, text = json.loads(line[1:])
            raise _ERRORS.get(name, OSError)(text)
        _pushed(line)


def poll():
    """Take the network changes the host pushed, without waiting."""
    while _poller.poll(0):
        _pushed(_readline())


def wait(seconds):
    """Sleep, waking up for the host's pushes (``sleep`` would leave them unread)."""
    deadline = ticks_ms() + int(seconds * 1000)
    left = int(seconds * 1000)
    while left > 0:
        if _poller.poll(left):
            _pushed(_readline())
        left = ticks_diff(deadline, ticks_ms())


def _readline():
    line = _stream.readline()
    if not line:
        # The host is gone: the board lost its power.
        raise SystemExit(0)
    return line


def _pushed(line):
    message = json.loads(line[1:])
    if message[0] == "net":
        set_link(message[1], message[2])
    else:
        # "heap": the host asks what the heap holds once the garbage is gone, and with a
        # true flag the qstr pools too (printed: the VM gives Python no other way to them).
        import gc

        gc.collect()
        if len(message) > 1 and message[1]:
            import micropython

            micropython.qstr_info()
        send("heap", gc.mem_free(), gc.mem_alloc())


def set_link(new, delay):
    global link, delay_s
    old = link
    link = new
    delay_s = delay
    if on_link is not None and old != new:
        on_link(old, new)


_last = ticks_ms()
_seconds = 0
_ms = 0
ticks = 0x1FFF0000
"""``supervisor.ticks_ms``: starts 65,536 ms before its 2**29 wrap (shared-bindings/supervisor/
__init__.c: ``(ticks_ms + 0x1fff0000) % (1 << 29)``)."""


def uptime():
    """(seconds, milliseconds) since boot, kept in small ints so no call allocates."""
    global _last, _seconds, _ms, ticks
    now = ticks_ms()
    step = ticks_diff(now, _last)
    _last = now
    ticks = (ticks + step) & 0x1FFFFFFF
    _ms += step
    if _ms >= 1000:
        _seconds += _ms // 1000
        _ms %= 1000
    return _seconds, _ms


class Enum:
    """A member of a CircuitPython enum: prints as ``microcontroller.ResetReason.WATCHDOG``."""

    def __init__(self, qualname):
        self._qualname = qualname

    def __repr__(self):
        return self._qualname

    __str__ = __repr__


class Members:
    """An enum class (``microcontroller.ResetReason``): each member is made the first time
    it is asked for and kept, so it stays one object and unused ones cost no heap."""

    def __init__(self, owner, names):
        self._owner = owner
        self._names = " " + names + " "

    def __getattr__(self, name):
        if " " + name + " " not in self._names:
            raise AttributeError(name)
        member = Enum(self._owner + "." + name)
        setattr(self, name, member)
        return member


_claimed = []


def claim(pin):
    """Take ``pin`` for one object; ``<name> in use`` when another has it
    (shared-bindings/microcontroller/Pin.c: validate_pin_free)."""
    if type(pin).__name__ != "Pin":
        raise TypeError("pin must be a Pin, not " + type(pin).__name__)
    if pin in _claimed:
        raise ValueError(pin.name + " in use")
    _claimed.append(pin)
    return pin


def release(pin):
    if pin in _claimed:
        _claimed.remove(pin)
