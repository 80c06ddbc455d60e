"""Storage: bytes per stored sample in VictoriaMetrics, a simulated month of one furnace.

One device at the firmware's default rates (a reading every SAMPLE_PERIOD_S, health every
HEALTH_PERIOD_S): readings from the virtual board's furnace model (set point, burner cycling,
thermocouple and flame-rod noise), health with plausible jitter. Every payload is encoded by
the contract (``encode_readings``, batches as backfill sends them; ``encode_health``), turned
into samples by the contract's field table, checked against the site's rendered decode
program (vrl-python) on the first payloads, so the series, labels and values are the pipeline's;
the samples are imported a day at a time (``/api/v1/import``) into a
VictoriaMetrics with the rendered flags. Then flush, force merge, wait for the merges, stop it
(it writes what it holds), and measure the data directory as ``du`` does (allocated blocks),
without ``cache/``. The 100-year projection scales the month linearly: VictoriaMetrics
partitions by month, so each month costs about the same.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sensor_bridge.checks.vrl_runtime import Remap
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.render import victoriametrics
from sensor_bridge.render.examples import epoch_ms
from sensor_bridge.render.vrl import decode_program
from sensor_bridge.site import Site
from sensor_bridge.store.client import Store
from sensor_bridge.virtual.furnace import FurnaceModel
from sensor_node.settings import SETTINGS
from sensor_protocol.fields import (
    FAULT_BITS,
    HEALTH_FIELDS,
    METRIC_NAMESPACE,
    READING_FIELDS,
    full_metric_name,
)
from sensor_protocol.limits import MAX_BATCH_READINGS
from sensor_protocol.payloads import (
    READINGS,
    decode_health,
    decode_readings,
    encode_health,
    encode_readings,
)
from sensor_protocol.topics import HEALTH, TELEMETRY, build_topic
from tests.bench.chain import bench_context
from tests.bench.report import Result

NAME = "storage"
TITLE = "Storage: bytes per stored sample in VictoriaMetrics"
DEFAULTS = {setting.key: setting.default for setting in SETTINGS}
SAMPLE_PERIOD_S = float(DEFAULTS["SAMPLE_PERIOD_S"])
HEALTH_PERIOD_S = int(DEFAULTS["HEALTH_PERIOD_S"])
DAY_S = 86400
YEAR_S = 365.25 * DAY_S
MERGE_TIMEOUT_S = 300.0
IMPORT_TIMEOUT_S = 120.0


def run(quick: bool, minutes: float) -> Result:
    days = 1 if quick else 30
    result = Result(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        workdir = Path(tmp)
        context = bench_context(workdir / "site")
        site = context.site
        unit = next(f for f in victoriametrics.render(context) if f.check == victoriametrics.NAME)
        history = History(site, site.devices[0].id)
        # An hour back: the last samples are well clear of the query latency offset.
        end_s = int(time.time()) // 3600 * 3600 - 3600
        start_s = end_s - days * DAY_S
        (workdir / "vm").mkdir()
        with VictoriaMetrics(workdir / "vm", unit.text) as storage:
            began = time.monotonic()
            imported = sum(
                _import(storage, history.day(day_s, min(day_s + DAY_S, end_s)))
                for day_s in range(start_s, end_s, DAY_S)
            )
            print(f"  imported {imported} samples in {time.monotonic() - began:.0f} s")
            storage.flush()
            _force_merge(storage.url)
            counted = _count(storage, history.device, days, end_s)
        sizes = _sizes(workdir / "vm" / "data")
    per_sample = sizes["total"] / counted
    per_second = _samples_per_second(history.series)
    century = per_sample * per_second * 100 * YEAR_S
    result.data = {
        "days": days,
        "samples": counted,
        "imported": imported,
        "bytes": sizes,
        "bytes_per_sample": per_sample,
        "samples_per_s": per_second,
        "bytes_100_years": century,
    }
    result.add("simulated", f"{days} day(s) of one furnace, {len(history.series)} series")
    result.add("samples stored", f"{counted} (imported {imported})")
    result.add(
        "on disk (du, without cache/)",
        f"{sizes['total'] / 1024**2:.2f} MiB: data {sizes['data'] / 1024**2:.2f} MiB, "
        f"index {sizes['indexdb'] / 1024**2:.2f} MiB",
    )
    result.add(
        "bytes per stored sample",
        f"{per_sample:.2f} B (file sizes without block rounding: "
        f"{sizes['apparent'] / counted:.2f} B)",
    )
    result.add(
        "projection, 100 years of one furnace",
        f"{century / 1024**3:.1f} GiB ({per_second:.2f} samples/s)",
    )
    result.notes.append(
        f"Reading every {SAMPLE_PERIOD_S:g} s, health every {HEALTH_PERIOD_S} s, the furnace "
        "model's values, mapped as the rendered VRL maps them (checked), imported into "
        "VictoriaMetrics with the rendered flags; flushed, force-merged, stopped, then du "
        "of its data directory without cache/ divided by the samples a query counts."
    )
    return result


class History:
    """A device's past as the pipeline stores it: import lines, a day at a time.

    Running the decode program on every message of a month would dominate the run: so
    the contract's field table maps each decoded payload to its samples, and the first
    payloads of each kind are also run through the rendered program, which must agree."""

    def __init__(self, site: Site, device: str) -> None:
        self.device = device
        self._labels = {"studio": site.studio, "device": device}
        self._program = Remap(decode_program(site))
        self._telemetry = build_topic(site.topic_root, site.studio, device, TELEMETRY)
        self._health = build_topic(site.topic_root, site.studio, device, HEALTH)
        self._furnace = FurnaceModel(seed=1)
        self._jitter = random.Random(2)
        self._seq = 0
        self._booted_s: float | None = None
        self._checked: set[str] = set()
        self.series: set[str] = set()

    def day(self, start_s: int, end_s: int) -> list[dict[str, Any]]:
        """Import lines (one per series) for the samples taken in [start_s, end_s)."""
        if self._booted_s is None:
            self._booted_s = start_s - 600.0
        lines: dict[str, dict[str, Any]] = {}
        batch_s = SAMPLE_PERIOD_S * MAX_BATCH_READINGS
        at = float(start_s)
        while at < end_s:
            stamps = [at + n * SAMPLE_PERIOD_S for n in range(MAX_BATCH_READINGS)]
            self._add(lines, self._readings([s for s in stamps if s < end_s]))
            at += batch_s
        for at_s in range(start_s, end_s, HEALTH_PERIOD_S):
            self._add(lines, self._health_report(at_s))
        self.series |= set(lines)
        return list(lines.values())

    def _readings(self, stamps: list[float]) -> list[Sample]:
        rows = []
        for at in stamps:
            self._seq += 1
            sample = self._furnace.sample(at - self._started())
            rows.append(
                (
                    self._seq,
                    self._up_ms(at),
                    int(at * 1000),
                    sample.hot_c,
                    sample.cold_junction_c,
                    sample.flame_v,
                    0,
                )
            )
        sent = stamps[-1] + 0.3
        payload, count = encode_readings(1, self._up_ms(sent), rows)
        assert count == len(rows)
        samples = [
            sample
            for reading in decode_readings(payload)[READINGS]
            for sample in self._samples(READING_FIELDS, reading, reading["t"])
        ]
        return self._checked_once(TELEMETRY, payload, sent, samples)

    def _health_report(self, at_s: float) -> list[Sample]:
        jitter = self._jitter
        health = {
            "uptime_s": int(at_s - self._started()),
            "mem_free": 110_000 + jitter.randrange(-4000, 4000, 16),
            "rssi": jitter.randint(-68, -56),
            "reconnects": 0,
            "radio_restarts": 0,
            "last_error": None,
            "max_loop_s": round(jitter.uniform(0.18, 0.26), 3),
            "read_s": round(jitter.uniform(0.15, 0.17), 3),
            "tc_faults": 0,
            "buffer_depth": 0,
            "buffer_capacity": 1000,
            "buffer_drops": 0,
            "clock_valid": True,
        }
        payload = encode_health(1, self._up_ms(at_s), health)
        samples = self._samples(HEALTH_FIELDS, decode_health(payload), int(at_s * 1000))
        return self._checked_once(HEALTH, payload, at_s, samples)

    def _samples(self, fields: tuple[Any, ...], values: dict[str, Any], at_ms: int) -> list[Sample]:
        samples = []
        for field in fields:
            value = values[field.key]
            if field.kind is None or value is None:
                continue
            name = full_metric_name(field)
            if field.kind == "flags":
                samples += [
                    (
                        {"__name__": name, **self._labels, "fault": fault},
                        float(bool(value & bit)),
                        at_ms,
                    )
                    for fault, bit in FAULT_BITS
                ]
            else:
                samples.append(({"__name__": name, **self._labels}, float(value), at_ms))
        return samples

    def _checked_once(
        self, channel: str, payload: str, received_s: float, samples: list[Sample]
    ) -> list[Sample]:
        if channel not in self._checked:
            self._checked.add(channel)
            decoded = self._decode(channel, payload, received_s)
            if _keyed(decoded) != _keyed(samples):
                raise RuntimeError(
                    f"the field table's samples differ from the decode program's:\n"
                    f"{sorted(_keyed(samples))}\n{sorted(_keyed(decoded))}"
                )
        return samples

    def _started(self) -> float:
        assert self._booted_s is not None
        return self._booted_s

    def _up_ms(self, at_s: float) -> int:
        return int((at_s - self._started()) * 1000)

    def _decode(self, channel: str, payload: str, received_s: float) -> list[Sample]:
        topic = self._telemetry if channel == TELEMETRY else self._health
        received = datetime.fromtimestamp(received_s, UTC)
        event = {"message": payload.encode(), "topic": topic, "timestamp": received}
        samples = []
        for out in self._program.run(event):
            if "name" not in out:
                raise RuntimeError(f"the decode program rejected {payload}: {out}")
            kind = "gauge" if "gauge" in out else "counter"
            metric = {"__name__": f"{METRIC_NAMESPACE}_{out['name']}", **out["tags"]}
            samples.append((metric, out[kind]["value"], epoch_ms(out["timestamp"])))
        return samples

    @staticmethod
    def _add(lines: dict[str, dict[str, Any]], samples: list[Sample]) -> None:
        for metric, value, at_ms in samples:
            key = json.dumps(metric, sort_keys=True)
            line = lines.setdefault(key, {"metric": metric, "values": [], "timestamps": []})
            line["values"].append(value)
            line["timestamps"].append(at_ms)


Sample = tuple[dict[str, str], float, int]
"""(labels with ``__name__``, value, timestamp ms)"""


def _keyed(samples: list[Sample]) -> set[tuple[str, float, int]]:
    return {(json.dumps(metric, sort_keys=True), value, at) for metric, value, at in samples}


def _import(storage: VictoriaMetrics, lines: list[dict[str, Any]]) -> int:
    # A day of samples: more than the client's usual timeout on a slow machine.
    Store(storage.urls, timeout=IMPORT_TIMEOUT_S).import_lines(
        "".join(json.dumps(line) + "\n" for line in lines).encode()
    )
    return sum(len(line["values"]) for line in lines)


def _force_merge(url: str) -> None:
    """Merge every partition, then wait until no merge runs (checked three times in a row)."""
    with urllib.request.urlopen(f"{url}/internal/force_merge", timeout=30) as response:
        response.read()
    deadline = time.monotonic() + MERGE_TIMEOUT_S
    idle = 0
    while idle < 3:
        if time.monotonic() > deadline:
            raise RuntimeError(f"merges still running after {MERGE_TIMEOUT_S:.0f} s")
        time.sleep(1)
        idle = idle + 1 if _active_merges(url) == 0 else 0


def _active_merges(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("vm_active_merges")
    )


def _count(storage: VictoriaMetrics, device: str, days: int, end_s: int) -> int:
    query = f'sum(count_over_time({{device="{device}"}}[{days + 1}d]))'
    result = storage.query(query, end_s + 1)
    return int(float(result[0]["value"][1]))


def _sizes(data_dir: Path) -> dict[str, int]:
    """Allocated bytes (as du counts them) of the data and index parts and of everything but
    the caches; and the files' own sizes without the caches (``apparent``: no block rounding,
    which dominates a small store)."""
    files = [f for f in data_dir.rglob("*") if f.is_file()]
    kept = [f for f in files if f.relative_to(data_dir).parts[0] != "cache"]

    def du(paths: list[Path]) -> int:
        return sum(f.stat().st_blocks * 512 for f in paths)

    def under(part: str) -> list[Path]:
        return [f for f in files if f.relative_to(data_dir).parts[0] == part]

    return {
        "data": du(under("data")),
        "indexdb": du(under("indexdb")),
        "total": du(kept),
        "apparent": sum(f.stat().st_size for f in kept),
    }


def _samples_per_second(series: set[str]) -> float:
    health = sum(1 for key in series if '"furnace_device_' in key)
    return (len(series) - health) / SAMPLE_PERIOD_S + health / HEALTH_PERIOD_S
