"""The run as a PNG: per furnace, the stored temperature and flame voltage, the spans its alerts
were firing shaded, and the scenario's steps marked."""

from __future__ import annotations

import time
from pathlib import Path

from sensor_bridge.alerting.units import in_unit
from sensor_bridge.demo.summary import RunRecord

ALERT_COLOUR = "tab:red"
TEMPERATURE_COLOUR = "tab:orange"
FLAME_COLOUR = "tab:blue"


def write_plot(run: RunRecord, path: Path) -> Path:
    import matplotlib

    # No display: the demo runs in terminals and CI alike.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    devices = list(run.published) or list(run.temperature)
    zero = run.started_at or time.time()
    end = run.ended_at or time.time()
    figure, axes_list = plt.subplots(
        len(devices), 1, figsize=(11, 3.2 * len(devices)), sharex=True, squeeze=False
    )
    for axes, device in zip((row[0] for row in axes_list), devices, strict=True):
        times, values = run.temperature.get(device, ([], []))
        values = [in_unit(v, run.unit) for v in values]
        axes.plot([t - zero for t in times], values, color=TEMPERATURE_COLOUR, lw=1)
        axes.set_ylabel(f"temperature °{run.unit}", color=TEMPERATURE_COLOUR)
        axes.set_title(device, loc="left")
        flame = axes.twinx()
        times, values = run.flame.get(device, ([], []))
        flame.plot([t - zero for t in times], values, color=FLAME_COLOUR, lw=1)
        flame.set_ylabel("flame V", color=FLAME_COLOUR)
        # Below zero a little: a flame out reads ~0 V and must not hide under the axis.
        flame.set_ylim(bottom=-0.2)
        for record in run.alerts:
            start = record.firing_at or record.paged_at
            if start is None or record.subject not in (device, ""):
                continue
            stop = record.resolved_at or end
            axes.axvspan(start - zero, stop - zero, color=ALERT_COLOUR, alpha=0.15)
            axes.annotate(
                record.name,
                (start - zero, 1.0),
                xycoords=("data", "axes fraction"),
                va="top",
                color=ALERT_COLOUR,
                fontsize=8,
            )
        for done in run.steps:
            if done.step.device in (device, None) and done.step.action != "note":
                axes.axvline(done.at - zero, color="grey", ls="--", lw=0.8)
                axes.annotate(
                    done.text,
                    (done.at - zero, 0.02),
                    xycoords=("data", "axes fraction"),
                    rotation=90,
                    fontsize=7,
                    color="grey",
                )
    axes_list[-1][0].set_xlabel("seconds since the scenario started")
    figure.suptitle(f"sensor-pipeline demo: scenario {run.scenario!r}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
