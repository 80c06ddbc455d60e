"""
`sensor_node.node`
================================================================================
The main loop: polling on deadlines, never exiting.

One iteration feeds the watchdog, advances the thermocouple (starts a conversion when a
sample is due, polls one in progress), does at most one blocking network operation (see
``sensor_node.link`` for their bounds), updates the status LED and sleeps until the next
thing is due (at most ``IDLE_MAX_MS``).

Network work, by priority: connect (while offline, when the backoff allows); the birth
message; health when due; readings, once the clock has been set this boot; an NTP sync when
due; a ping when the session has been quiet for half the keep-alive.

Readings never go out without a time: the host cannot place one (``sensor_protocol.payloads``).
Until the first NTP sync of the boot they wait in the buffer; then each is stamped from its
uptime and the clock's offset (the buffer is RAM: every reading in it is of this boot, on the
same uptime). Health and status go out regardless, and say ``clock_valid``.

Every reading goes into the ring buffer first and leaves it on its PUBACK. A reading taken
while connected, with nothing older waiting, goes out alone on ``telemetry``; anything
else (what piled up while offline, or readings that queued behind it) goes oldest-first in
batches on ``backfill``.
"""

from sensor_node.status_led import choose_state
from sensor_node.timing import Deadline
from sensor_protocol.limits import MAX_BATCH_READINGS
from sensor_protocol.topics import BACKFILL, HEALTH, TELEMETRY
from sensor_protocol.wire import (
    FAULTS_INVALIDATING_TEMPERATURE,
    encode_health,
    encode_readings,
    fault_names,
)

try:
    from micropython import const
except ImportError:  # CPython, under test
    const = int  # type: ignore[assignment]

# For mypy: every annotation is a string, so nothing here is needed at run time (a board
# stops at typing). Modules rather than classes: most of their names are the parameters'
# too, which leaves 32 bytes more of the Pico W's heap free (tests/integration/vm/
# test_vm_heap.py).
try:
    from typing import Any, Callable, Dict, Optional, Tuple
    from watchdog import WatchDogTimer

    from sensor_node import (
        clock,
        console,
        flame,
        health,
        link,
        ring_buffer,
        status_led,
        thermocouple,
        timing,
    )
except ImportError:
    pass

IDLE_MAX_MS = const(100)
"""Longest sleep between iterations."""
_POLL_MS = const(20)
"""Sleep while a thermocouple conversion runs."""
_DROP_REPORT_MS = const(60000)
"""Least time between two console lines about buffer drops."""


class Node:
    """The sensor node; ``run()`` never returns. Everything is injected (``sensor_node.app``
    composes the real parts); ``step()`` is one iteration, for tests."""

    def __init__(  # noqa: PLR0913 - every part injected, so that tests can replace each
        self,
        *,
        settings: "Dict[str, Any]",
        boot: int,
        uptime: "timing.Uptime",
        console: "console.Console",
        watchdog: "WatchDogTimer",
        thermocouple: "thermocouple.Thermocouple",
        debouncer: "thermocouple.FaultDebouncer",
        flame: "flame.FlameSensor",
        buffer: "ring_buffer.ReadingBuffer",
        link: "link.Link",
        clock: "clock.WallClock",
        health: "health.Health",
        led: "status_led.StatusLed",
        mem_free: "Callable[[], int]",
        sleep: "Callable[[float], Any]",
    ) -> None:
        self._boot = boot
        self._uptime = uptime
        self._console = console
        self._watchdog = watchdog
        self._thermocouple = thermocouple
        self._debouncer = debouncer
        self._flame = flame
        self._buffer = buffer
        self._link = link
        self._clock = clock
        self._health = health
        self._led = led
        self._mem_free = mem_free
        self._sleep = sleep
        self._sample_period_ms = int(settings["SAMPLE_PERIOD_S"] * 1000)
        self._health_period_ms = settings["HEALTH_PERIOD_S"] * 1000
        self._sample_due = Deadline(uptime)
        self._health_due = Deadline(uptime)
        self._health_due.start(self._health_period_ms)
        self._sample_up_ms = 0
        self._sample_flame: Optional[float] = None
        self._was_online = False
        self._backfill_through = -1
        self._backfilled = 0
        # Readings per payload: halved while the heap has no block for a whole batch.
        self._batch = MAX_BATCH_READINGS
        self._drop_report = Deadline(uptime)
        self._last_feed_ms = uptime.ms()

    def run(self) -> None:
        """Loop forever."""
        while True:
            self.step()
            self._sleep(self.idle_s())

    def step(self) -> None:
        """One iteration."""
        self._watchdog.feed()
        now = self._uptime.ms()
        self._health.loop_took(now - self._last_feed_ms)
        self._last_feed_ms = now
        self._sample()
        self._network()
        buffered = len(self._buffer) > 0
        state = choose_state(False, self._debouncer.flags != 0, self._link.online, buffered)
        self._led.show(state, self._uptime.ms())

    def idle_s(self) -> float:
        """How long to sleep before the next iteration: nothing when readings wait to be
        published (and can be: the clock is set), a poll interval while converting, else until
        the next sample (at most ``IDLE_MAX_MS``)."""
        if (
            self._link.online
            and len(self._buffer)
            and not self._link.birth_pending
            and self._clock.is_set()
        ):
            return 0.0
        if self._thermocouple.converting:
            return _POLL_MS / 1000
        return min(self._sample_due.remaining_ms(), IDLE_MAX_MS) / 1000

    def _sample(self) -> None:
        thermocouple = self._thermocouple
        if thermocouple.converting:
            result = thermocouple.poll()
            if result is not None:
                self._store(result)
        elif self._sample_due.expired():
            self._sample_due.advance(self._sample_period_ms)
            # The flame is read as the conversion starts: both belong to one moment.
            self._sample_up_ms = self._uptime.ms()
            self._sample_flame = self._flame.read_volts()
            thermocouple.start()

    def _store(self, result: "Tuple[Any, Any, int, int]") -> None:
        temp_c, cj_c, raw_faults, read_ms = result
        health = self._health
        health.read_took(read_ms)
        if raw_faults:
            health.tc_faults += 1
        debouncer = self._debouncer
        changed = debouncer.update(raw_faults)
        flags = debouncer.flags
        if changed & flags:
            self._console.warn(
                "fault_set", "fault", ",".join(fault_names(changed & flags)), "flags", flags
            )
        if changed & ~flags:
            self._console.info(
                "fault_clear", "fault", ",".join(fault_names(changed & ~flags)), "flags", flags
            )
        if flags & FAULTS_INVALIDATING_TEMPERATURE:
            temp_c = None
        up_ms = self._sample_up_ms
        # The measured values in the contract's order (fields.READING_FIELDS).
        values = (temp_c, cj_c, self._sample_flame)
        if self._buffer.append(up_ms, self._clock.epoch_ms(up_ms), values, flags):
            self._report_drop()

    def _report_drop(self) -> None:
        if not self._drop_report.expired():
            return
        self._drop_report.start(_DROP_REPORT_MS)
        self._console.warn(
            "buffer_drop", "drops", self._buffer.drops, "capacity", self._buffer.capacity
        )

    def _network(self) -> None:
        link = self._link
        link.check()
        if not link.online:
            self._was_online = False
            buffer_full = len(self._buffer) >= self._buffer.capacity
            if not link.connect_step(buffer_full) and link.wifi_connected and self._clock.due():
                self._sync_clock()
            return
        if not self._was_online:
            self._was_online = True
            # What waits now was taken offline: it goes on backfill, whatever comes later.
            buffer = self._buffer
            self._backfill_through = buffer.next_seq - 1 if len(buffer) else -1
        if link.birth_pending:
            link.publish_birth()
        elif self._health_due.expired():
            self._health_due.advance(self._health_period_ms)
            self._publish_health()
        elif len(self._buffer) and self._clock.is_set():
            self._publish_readings()
        elif self._clock.due():
            self._sync_clock()
        elif link.ping_due():
            link.ping()

    def _sync_clock(self) -> None:
        if self._clock.sync(self._link.pool):
            self._link.network_answered()

    def _publish_health(self) -> None:
        now = self._uptime.ms()
        # Bytes: MiniMQTT copies a str into bytes and keeps both while it waits for the
        # PUBACK. The health dict and the text are garbage by then.
        payload = encode_health(
            self._boot,
            now,
            self._health.report(
                now,
                self._mem_free(),
                self._link.rssi(),
                self._link,
                self._buffer,
                self._clock.valid(),
            ),
        ).encode()
        self._link.publish(HEALTH, payload)

    def _publish_readings(self) -> None:
        buffer = self._buffer
        live = len(buffer) == 1 and buffer.next_seq - 1 > self._backfill_through
        channel = TELEMETRY if live else BACKFILL
        try:
            text, count = encode_readings(
                self._boot, self._uptime.ms(), buffer.oldest(self._batch, self._clock)
            )
            # One copy of the batch (up to MAX_PAYLOAD_BYTES) waits for the PUBACK, not two
            # (see _publish_health).
            payload = text.encode()
        except MemoryError:
            # After an outage the heap may be too fragmented for a 3 kB payload although
            # plenty is free: fewer readings per payload, rather than a reset that loses all.
            if self._batch == 1:
                raise
            self._batch //= 2
            self._console.warn("batch_shrunk", "readings", self._batch)
            return
        del text
        if not self._link.publish(channel, payload):
            return
        buffer.ack(count)
        if live:
            return
        if not self._backfilled:
            self._console.info("backfill_start", "waiting", len(buffer) + count)
        self._backfilled += count
        if not len(buffer):
            self._console.info("backfill_done", "readings", self._backfilled, "drops", buffer.drops)
            self._backfilled = 0
            self._batch = MAX_BATCH_READINGS
