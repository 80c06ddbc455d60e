"""Waiting on real services: poll a condition until it holds or a deadline passes, never sleep
and then assert a moment."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S = 0.25


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Return once ``check()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(POLL_S)


def stays_true(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Return after ``seconds`` in which ``check()`` held every time it was asked; fail naming
    ``what`` as soon as it does not. For what must not happen (a crash loop, a message that
    must not arrive), which no condition can wait for."""
    start = time.monotonic()
    end = start + seconds
    while True:
        assert check(), f"{what}: broken {time.monotonic() - start:.1f} s into {seconds} s"
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(POLL_S, left))
