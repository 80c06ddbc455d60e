"""Benchmarks: they print figures and assert nothing (``hatch run bench``, ``bench-node``)."""
