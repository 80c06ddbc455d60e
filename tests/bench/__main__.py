"""Host benchmarks: print figures, assert nothing. Run: ``hatch run bench``.

    hatch run bench [--only NAME ...] [--quick] [--minutes N] [--markdown FILE]

Each benchmark is a module of this package with ``NAME``, ``TITLE`` and ``run(quick, minutes)``
returning a ``report.Result``; they run one after the other, each on its own chain in a temp
dir. ``--quick`` shortens every run (for checking that they work, not for figures);
``--markdown`` writes the machine and every table, ready for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType

from tests.bench import (
    alert_latency,
    device_heap,
    firmware_heap,
    footprint,
    latency,
    storage,
    throughput,
)
from tests.bench.report import Result, machine, markdown

BENCHMARKS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        latency,
        alert_latency,
        throughput,
        footprint,
        storage,
        device_heap,
        firmware_heap,
    )
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hatch run bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS), metavar="NAME"
    )
    parser.add_argument("--quick", action="store_true", help="short runs, to check they work")
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="footprint: minutes of 2 devices (10)"
    )
    parser.add_argument("--markdown", type=Path, help="write the tables to this file")
    args = parser.parse_args(argv)
    host = machine()
    print(", ".join(f"{key}: {value}" for key, value in host.items()), flush=True)
    results: list[Result] = []
    for name in args.only:
        module = BENCHMARKS[name]
        print(f"\n{module.TITLE}", flush=True)
        results.append(module.run(args.quick, args.minutes))
    if args.markdown:
        command = " ".join(["hatch run bench", *(argv if argv is not None else sys.argv[1:])])
        args.markdown.write_text(markdown(results, host, command))
        print(f"\nwrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
