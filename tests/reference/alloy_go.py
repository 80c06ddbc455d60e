"""Writes ``alloy-1.18.json`` from an Alloy checkout, as Alloy's decoder reads a config
(syntax/vm/struct_decoder.go): for each used component, the attributes and blocks its
``Arguments`` accepts and the attributes its ``Exports`` give, from the ``alloy:"name,attr"``,
``alloy:"name,block"`` and ``alloy:",squash"`` tags of those structs and of the structs their
blocks and squashed fields name, across packages; and the standard library's identifiers
(syntax/internal/stdlib/stdlib.go). Each component lists the files it was read from.

    git clone https://github.com/grafana/alloy && git -C alloy checkout v1.18.1
    python -m tests.reference.alloy_go alloy

Run by hand when Alloy's pinned version changes or a new component is rendered (add it to
COMPONENTS); the test reads only the JSON."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tests.reference import ALLOY_TABLE, Options

TAG = "v1.18.1"
MODULE = "github.com/grafana/alloy/"
STDLIB = "syntax/internal/stdlib/stdlib.go"
COMPONENTS = {
    "prometheus.exporter.unix": "internal/component/prometheus/exporter/unix",
    "prometheus.exporter.blackbox": "internal/component/prometheus/exporter/blackbox",
    "prometheus.scrape": "internal/component/prometheus/scrape",
    "prometheus.relabel": "internal/component/prometheus/relabel",
    "prometheus.remote_write": "internal/component/prometheus/remotewrite",
    "discovery.relabel": "internal/component/discovery/relabel",
}
_STRUCT = re.compile(r"^type (\w+) struct \{$")
# A named list of structs (`type TargetBlock []BlackboxTarget`): a block repeated.
_LIST = re.compile(r"^type (\w+) \[\]\*?([\w.]+)$")
_FIELD = re.compile(r'^\t\w+\s+(\S+)\s+`[^`]*alloy:"([a-z0-9_]*),(attr|block|squash)[,"]')
_IMPORT = re.compile(r'^\s*(\w+\s+)?"([^"]+)"$')
_EXPORTS = re.compile(r"^\t+Exports:\s+([\w.]+)\{\},$")
_MAP = re.compile(r"^var (\w+) = map\[string\]any\{$")
_ENTRY = re.compile(r'^\t"(\w+)":\s+([\w.]+),$')


class Package:
    """The structs of one Go package directory (and the file of each), the imports its files
    name and the Exports struct its component registers."""

    def __init__(self, root: Path, directory: str) -> None:
        self.structs: dict[str, list[tuple[str, str, str]]] = {}
        self.files: dict[str, str] = {}
        self.imports: dict[str, str] = {}
        self.lists: dict[str, str] = {}
        self.exports: str | None = None
        self.text = ""
        for path in sorted((root / directory).glob("*.go")):
            if not path.name.endswith("_test.go"):
                self._read(f"{directory}/{path.name}", path.read_text())

    def _read(self, file: str, text: str) -> None:
        self.text += text
        current: str | None = None
        for line in text.splitlines():
            found = _IMPORT.match(line)
            if found and found.group(2).startswith(MODULE):
                path = found.group(2).removeprefix(MODULE)
                alias = (found.group(1) or "").strip() or path.rsplit("/", 1)[-1]
                self.imports[alias] = path
            if named := _LIST.match(line):
                self.lists[named.group(1)] = named.group(2)
            if exports := _EXPORTS.match(line):
                self.exports = exports.group(1)
            if start := _STRUCT.match(line):
                current = start.group(1)
                self.structs[current] = []
                self.files[current] = file
            elif line == "}":
                current = None
            elif current is not None and (field := _FIELD.match(line)):
                go_type, name, kind = field.groups()
                self.structs[current].append((name, kind, go_type))


class Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.packages: dict[str, Package] = {}
        self.read: set[str] = set()
        """The files whose structs were read since it was last emptied."""

    def package(self, directory: str) -> Package:
        if directory not in self.packages:
            self.packages[directory] = Package(self.root, directory)
        return self.packages[directory]

    def options(self, package: Package, go_type: str) -> Options:
        """A struct's attributes (None) and blocks (their own options); squashed ones inline."""
        package, struct = self._resolve(package, go_type)
        self.read.add(package.files[struct])
        found: Options = {}
        for name, kind, field_type in package.structs[struct]:
            if kind == "squash":
                found.update(self.options(package, field_type))
            else:
                found[name] = self.options(package, field_type) if kind == "block" else None
        return found

    def _resolve(self, package: Package, go_type: str) -> tuple[Package, str]:
        name = go_type.lstrip("[]*")
        name = package.lists.get(name, name)
        if "." in name:
            alias, name = name.split(".", 1)
            package = self.package(package.imports[alias])
        return package, name


def stdlib(root: Path) -> list[str]:
    """The standard library's identifiers: ``sys.env``, ``encoding.from_json``, ``env``..."""
    maps: dict[str, list[tuple[str, str]]] = {}
    entries: list[tuple[str, str]] | None = None
    for line in (root / STDLIB).read_text().splitlines():
        if start := _MAP.match(line):
            entries = maps.setdefault(start.group(1), [])
        elif line == "}":
            entries = None
        elif entries is not None and (entry := _ENTRY.match(line)):
            entries.append((entry.group(1), entry.group(2)))
    names = []
    for key, value in maps["Identifiers"] + maps["DeprecatedIdentifiers"]:
        names += [f"{key}.{inner}" for inner, _ in maps[value]] if value in maps else [key]
    return sorted(names)


def main(root: Path) -> None:
    reader = Reader(root)
    components: dict[str, object] = {}
    for component, directory in COMPONENTS.items():
        reader.read = set()
        package = reader.package(directory)
        if f'"{component}"' not in package.text:
            raise SystemExit(f"{directory} does not register {component}")
        components[component] = {
            "options": reader.options(package, "Arguments"),
            "exports": reader.options(package, package.exports) if package.exports else {},
            "source": sorted(reader.read),
        }
    table = {
        "alloy": TAG,
        "components": components,
        "stdlib": {"source": [STDLIB], "identifiers": stdlib(root)},
    }
    ALLOY_TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
