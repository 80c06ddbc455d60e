"""The MetricsQL the host asks the store (``Store.query``), as pure functions of what to ask.

``tlast_over_time`` (the timestamp of a series' last sample) and ``keep_metric_names`` are
MetricsQL, not PromQL: they only exist in VictoriaMetrics.
"""

from __future__ import annotations

from collections.abc import Sequence


def studio_series(names: Sequence[str], studio: str, window: str) -> str:
    """Every series named one of ``names`` of ``studio``, over the last ``window``."""
    return f'{{__name__=~"{"|".join(names)}", studio="{studio}"}}[{window}]'


def newest_sample_per_device(names: Sequence[str], studio: str, window: str) -> str:
    """Per device: the time of its newest sample of any of ``names``."""
    return f"max by (device) (tlast_over_time({studio_series(names, studio, window)}))"


def newest_values(names: Sequence[str], studio: str, window: str) -> str:
    """Per series: its newest value, under its own name."""
    return f"last_over_time({studio_series(names, studio, window)}) keep_metric_names"


def newest_times(names: Sequence[str], studio: str, window: str) -> str:
    """Per series: the time of its newest value, under its own name."""
    return f"tlast_over_time({studio_series(names, studio, window)}) keep_metric_names"


def devices_with(name: str, studio: str) -> str:
    """Per device of ``studio``: how many series named ``name`` it has (none: absent)."""
    return f'count by (device) ({name}{{studio="{studio}"}})'
