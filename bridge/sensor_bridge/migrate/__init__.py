"""Bringing the studio's history over from the systems this one replaces.

``sensor-bridge migrate influx`` (InfluxDB 1.x → VictoriaMetrics), in four steps, one module
each: ``plan`` reads what InfluxDB holds and what each series becomes (``mapping``, from the
site file's ``[migrate.influx]`` table); ``run`` copies it chunk by chunk with the real vmctl
(``vmctl``) through a relabeling proxy (``relabel``, which explains why a proxy), recording each
chunk done (``state``); ``verify`` compares both sides series by series; ``report`` writes the
proof as Markdown and JSON.
"""
