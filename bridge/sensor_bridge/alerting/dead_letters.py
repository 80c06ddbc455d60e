"""Dead letters per hour: one query for the alert (vmalert on VictoriaMetrics) and the dashboard
panel (VictoriaMetrics on the Pi, Prometheus/Mimir on Grafana Cloud), counting the same on both.

Vector's sink writes ``furnace_pipeline_dead_letters_total`` only when a dead letter arrives,
and a label set (a new ``reason``) is born at 1, never at 0. ``increase(...[1h])`` then differs
by engine: Prometheus and Mimir need two samples in the window and never count the first one
(a new reason with one dead letter is no increase at all), while VictoriaMetrics counts from an
implied 0. So the count is built from what both engines compute alike, per series:

* ``now``: the latest value in the hour (no sample in the hour: no dead letter, no series);
* ``before``: the latest value before the hour, within ``BEFORE_LOOKBACK``;
* ``now - before`` where that is not negative, else ``now`` (a series born in the hour has no
  ``before``; Vector restarted, its counters start again from 1, when ``now < before``).

Not counted: dead letters before a restart within the same hour, and (counted too much) a
reason silent for longer than ``BEFORE_LOOKBACK`` whose Vector has kept running: it counts as
new with its whole total.
"""

from __future__ import annotations

from sensor_bridge.render.vrl import DEAD_LETTER_METRIC
from sensor_protocol.fields import METRIC_NAMESPACE

METRIC = f"{METRIC_NAMESPACE}_{DEAD_LETTER_METRIC}"
WINDOW = "1h"
BEFORE_LOOKBACK = "7d"
"""Grafana Cloud's free tier keeps 14 days; a week bounds the range the query reads."""


def per_hour(by: str, matchers: str = "") -> str:
    """Dead letters in the last hour, summed by the labels ``by`` (e.g. ``"studio"``)."""
    series = f"{METRIC}{{{matchers}}}" if matchers else METRIC
    now = f"last_over_time({series}[{WINDOW}])"
    before = f"last_over_time({series}[{BEFORE_LOOKBACK}] offset {WINDOW})"
    return f"sum by ({by}) ((({now} - {before}) >= 0) or {now})"
