"""The payloads each contract release publishes, kept in tests/fixtures/contract/<major>.<minor>/.

A release's directory holds the contract's valid example messages (``sensor_bridge.render.
examples``) as that release's firmware encoded them, one file a message, named after its
channel. ``python -m tests.support.releases`` writes the current release's directory; it never
rewrites one that exists, since a released directory is what boards in the field send.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sensor_bridge.render import examples
from sensor_protocol import SCHEMA_MINOR, SCHEMA_VERSION
from tests.support.decode import example_site

FIXTURES = Path(__file__).parents[1] / "fixtures" / "contract"
CURRENT = FIXTURES / f"{SCHEMA_VERSION}.{SCHEMA_MINOR}"

FILES = {
    "telemetry": "telemetry",
    "telemetry without clock, faulted": "telemetry-faulted-without-clock",
    "backfill batch, partly without clock": "backfill",
    "health": "health",
    "health without wifi": "health-without-wifi",
    "status online": "status-online",
    "status offline": "status-offline",
}
"""File name (its channel first) of each example a release keeps."""


def current_release() -> dict[str, bytes]:
    """File name → contents of the current release's directory, as this firmware writes it."""
    found = {example.name: example for example in examples.examples(example_site())}
    return {f"{stem}.json": found[name].payload + b"\n" for name, stem in FILES.items()}


def main() -> int:
    if CURRENT.exists():
        print(f"{CURRENT} exists: a released directory is never rewritten", file=sys.stderr)
        return 1
    CURRENT.mkdir(parents=True)
    for name, payload in current_release().items():
        (CURRENT / name).write_bytes(payload)
    print(f"wrote {len(FILES)} payloads to {CURRENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
