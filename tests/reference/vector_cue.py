"""Writes ``vector-0.57.json`` from a Vector checkout: the options each used component accepts,
read from the reference Vector generates from its Rust config structs
(``website/cue/reference/**/generated/*.cue``; ``vector generate-schema`` makes the same).

    python -m tests.reference.vector_cue /path/to/vector  # at tag v0.57.0

Run by hand when Vector's pinned version changes; the test reads only the JSON."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from tests.reference import VECTOR_TABLE, Options

TAG = "v0.57.0"
COMPONENTS = {
    "sources": ("mqtt", "internal_metrics", "prometheus_scrape"),
    "transforms": ("remap", "route", "log_to_metric", "throttle"),
    "sinks": ("prometheus_remote_write", "file", "prometheus_exporter"),
}
KINDS = {"sources": "source", "transforms": "transform", "sinks": "sink"}
# `vector test`'s file: not in the generated reference; read from src/config/mod.rs
# (TestDefinition, TestInput, TestOutput, all deny_unknown_fields) and src/conditions/mod.rs,
# src/conditions/vrl.rs (a condition: `type` and VrlConfig's `source`).
_INPUT: Options = {
    "insert_at": None,
    "type": None,
    "value": None,
    "source": None,
    "log_fields": {"*": None},
    "metric": None,
}
UNIT_TESTS = {
    "source": ["src/config/mod.rs", "src/conditions/mod.rs", "src/conditions/vrl.rs"],
    "options": {
        "tests": {
            "name": None,
            "input": _INPUT,
            "inputs": _INPUT,
            "outputs": {
                "extract_from": None,
                "conditions": {"type": None, "source": None},
                "expected_event_count": None,
            },
            "no_outputs_from": None,
        }
    },
}
_OPTION = re.compile(r'^(\t*)("?[A-Za-z0-9_*]+"?): \{$')
# Where an option's own options open: an object, an array of objects, or a map ("*").
_OPTIONS = re.compile(
    r'^(\t*)(?:type: )?(?:array: items: type: )?(?:object: )?options: ("\*": )?\{$'
)


def options(lines: list[str], start: int, depth: int) -> tuple[Options, int]:
    """The options opened at ``depth`` tabs from line ``start`` up to their closing brace."""
    found: Options = {}
    index = start
    while index < len(lines):
        line = lines[index]
        if line == "\t" * (depth - 1) + "}":
            return found, index
        match = _OPTION.match(line)
        if match and len(match.group(1)) == depth:
            name = match.group(2).strip('"')
            end = _closing(lines, index, depth)
            found[name] = _nested(lines[index + 1 : end], depth)
            index = end
        index += 1
    return found, index


def _closing(lines: list[str], start: int, depth: int) -> int:
    index, in_text = start + 1, False
    while True:
        line = lines[index]
        if line.count('"""') % 2:
            in_text = not in_text
        if not in_text and line == "\t" * depth + "}":
            return index
        index += 1


def _nested(body: list[str], depth: int) -> Options | None:
    """An option's own options (an object, an array of objects, a map), or None for a value."""
    in_text = False
    for index, line in enumerate(body):
        if line.count('"""') % 2:
            in_text = not in_text
        match = None if in_text else _OPTIONS.match(line)
        if match is None:
            continue
        inner = len(match.group(1))
        if match.group(2):
            end = _closing(body, index, inner)
            return {"*": _nested(body[index + 1 : end], inner)}
        found, _ = options(body, index + 1, inner + 1)
        return found
    return None


def configuration(path: Path, *keys: str) -> Options:
    """The options under ``generated: <keys...>: configuration: {``."""
    lines = path.read_text().splitlines()
    head = "generated: " + ": ".join(keys) + ": configuration: {"
    start = lines.index(head)
    found, _ = options(lines, start + 1, 1)
    return found


def main(root: Path) -> None:
    reference = root / "website/cue/reference"
    table: dict[str, Any] = {"vector": TAG, "components": {}}
    for kind, names in COMPONENTS.items():
        for name in names:
            cue = reference / "components" / kind / "generated" / f"{name}.cue"
            common = reference / "components/generated" / f"{kind}.cue"
            table["components"][f"{KINDS[kind]}.{name}"] = {
                "source": [str(p.relative_to(root)) for p in (cue, common)],
                "options": {
                    **configuration(common, "components", kind),
                    **configuration(cue, "components", kind, name),
                },
            }
    top = reference / "generated/configuration.cue"
    lines = top.read_text().splitlines()
    config, _ = options(lines, lines.index("\tconfiguration: {") + 1, 2)
    table["top_level"] = {"source": [str(top.relative_to(root))], "options": config}
    table["unit_tests"] = UNIT_TESTS
    VECTOR_TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
