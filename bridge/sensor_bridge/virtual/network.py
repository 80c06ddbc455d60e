"""The network between the board and the LAN: its state and the faults injected into it.

``NetEnvironment`` holds the link state that ``wifi`` and ``socketpool`` obey:

* ``up``: real sockets, real broker.
* ``down``: the access point is gone. ``wifi.radio.connected`` is False, new connections
  fail with EHOSTUNREACH, sockets connected before it raise ENOTCONN from then on (their
  TCP connection does not survive), names do not resolve.
* ``blackhole``: packets vanish. Connects hang until their timeout (ETIMEDOUT), sends
  succeed but nothing reaches the peer, receives time out. A socket that lost data is
  reset once the hole closes, as its TCP stream is gone.
* ``refuse``: the broker's host answers with RST: connects fail with ECONNREFUSED and
  established connections are reset (ECONNRESET).
* ``slow``: a slow broker: connections open at once (the kernel answers) but everything
  received arrives ``delay_s`` virtual seconds late (every receive, NTP replies too).
* ``ap_silent``: the access point is on the air but never completes an association (it
  leaves authentication or the 4-way handshake unanswered): the board is off the network as
  with ``down``, but ``wifi.radio.connect`` finds the network and waits for the driver's
  timers (how long depends on the port, ``families.PortFamily.wifi_connect_attempt_s``).
* ``wedged``: not a network state but a fault of the board's radio: it stays associated and
  nothing passes (``blackhole`` for the board) until the radio is power-cycled: a reset, or
  on a port whose ``enabled = False`` really stops the radio, a radio restart
  (``families.PortFamily.radio_disable_stops_radio``). ``state`` keeps the network's state;
  any other state clears the wedge. A reset clears it too (the handoff does not carry it).

A socket the firmware closes during ``down`` or ``blackhole`` sends nothing: its real
connection is parked and reset only when the link is back, so the broker learns of it the
way it would in reality (keep-alive expiry, or an RST after the outage).
"""

import threading
import weakref
from collections.abc import Callable
from typing import Protocol

STATES = ("up", "down", "blackhole", "refuse", "slow", "ap_silent", "wedged")
OUTAGE_STATES = ("down", "blackhole")


class LinkListener(Protocol):
    """An open socket: told about link changes, asked for its real descriptor."""

    def link_changed(self, old: str, new: str) -> None: ...

    def real_fileno(self) -> int | None: ...


class Parked(Protocol):
    def fileno(self) -> int: ...

    def abort(self) -> None: ...


class NetEnvironment:
    def __init__(
        self,
        wall_clock: Callable[[], float],
        *,
        state: str = "up",
        delay_s: float = 0.0,
        ntp_enabled: bool = True,
    ) -> None:
        if state not in STATES:
            raise ValueError(f"net state must be one of {STATES}, got {state!r}")
        self._lock = threading.Lock()
        self.wall_clock = wall_clock
        """Virtual wall time (Unix seconds): what the LAN NTP server answers with."""
        self._state = state
        self.delay_s = float(delay_s)
        self.ntp_enabled = ntp_enabled
        self._radio_enabled = True
        self._radio_joined = False
        self._radio_wedged = False
        self._listeners: weakref.WeakSet[LinkListener] = weakref.WeakSet()
        self._parked: list[Parked] = []

    @property
    def state(self) -> str:
        """The injected network state, whatever the radio does."""
        return self._state

    def link(self) -> str:
        """The state as the board sees it: ``down`` too while its radio is off or unjoined,
        or the access point silent; ``blackhole`` while its radio is wedged."""
        if not (self._radio_enabled and self._radio_joined) or self._state == "ap_silent":
            return "down"
        return "blackhole" if self._radio_wedged else self._state

    @property
    def radio_enabled(self) -> bool:
        return self._radio_enabled

    @property
    def radio_joined(self) -> bool:
        return self._radio_joined

    @property
    def radio_wedged(self) -> bool:
        return self._radio_wedged

    def set_state(self, state: str, delay_s: float | None = None) -> None:
        if state not in STATES:
            raise ValueError(f"net state must be one of {STATES}, got {state!r}")

        def apply() -> None:
            self._radio_wedged = state == "wedged"
            if state != "wedged":
                self._state = state

        self._change(apply)
        if delay_s is not None:
            self.delay_s = float(delay_s)

    def power_cycle_radio(self) -> None:
        """The radio chip was really stopped: a wedge does not survive it."""
        self._change(lambda: setattr(self, "_radio_wedged", False))

    def set_radio(self, *, enabled: bool | None = None, joined: bool | None = None) -> None:
        def apply() -> None:
            if enabled is not None:
                self._radio_enabled = enabled
            if joined is not None:
                self._radio_joined = joined

        self._change(apply)

    def _change(self, apply: Callable[[], None]) -> None:
        with self._lock:
            old = self.link()
            apply()
            new = self.link()
            listeners = list(self._listeners)
            parked = [] if new in OUTAGE_STATES else self._parked
            if parked:
                self._parked = []
        if old != new:
            for listener in listeners:
                listener.link_changed(old, new)
        for connection in parked:
            connection.abort()

    def register(self, listener: LinkListener) -> None:
        self._listeners.add(listener)

    def unregister(self, listener: LinkListener) -> None:
        self._listeners.discard(listener)

    def open_count(self) -> int:
        return len(self._listeners)

    def park(self, connection: Parked) -> None:
        """Keep a closed connection silent until the link is back, then reset it.

        Resets it at once when the link came back in the meantime.
        """
        with self._lock:
            if self.link() in OUTAGE_STATES:
                self._parked.append(connection)
                return
        connection.abort()

    def real_fds(self) -> list[int]:
        """Descriptors of every real socket behind the board, open or parked."""
        with self._lock:
            fds = [connection.fileno() for connection in self._parked]
            listeners = list(self._listeners)
        fds += [fd for fd in (listener.real_fileno() for listener in listeners) if fd is not None]
        return [fd for fd in fds if fd >= 0]
