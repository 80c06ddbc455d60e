"""A rendered config.alloy read into what the reference check needs: each component's
attributes (with their value's text) and blocks, and the dotted names the values use. Only the
subset of Alloy's syntax that ``render.alloy`` writes: one block head or attribute per line."""

from __future__ import annotations

import re
from typing import NamedTuple

_BLOCK = re.compile(r'^([a-z_][a-z0-9_.]*)(?: "([^"]*)")? \{$')
_ATTRIBUTE = re.compile(r"^([a-z_][a-z0-9_]*) = (.*)$")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"\b([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\s*(\()?")

Body = dict[str, str | list["Body"]]
"""An attribute's name → its value's text; a block's name → the bodies it was given with."""


class Component(NamedTuple):
    name: str
    label: str
    body: Body


def components(text: str) -> list[Component]:
    found: list[Component] = []
    stack: list[Body] = []
    value: tuple[Body, str] | None = None  # an attribute whose value spans lines
    for raw in text.splitlines():
        line = raw.strip()
        if value is not None:
            body, name = value
            body[name] = f"{body[name]}\n{line}"
            if _depth(str(body[name])) == 0:
                value = None
            continue
        if not line or line.startswith("//"):
            continue
        block = _BLOCK.match(line)
        attribute = _ATTRIBUTE.match(line)
        if block:
            inner: Body = {}
            if stack:
                blocks = stack[-1].setdefault(block.group(1), [])
                assert isinstance(blocks, list), f"{block.group(1)} is an attribute and a block"
                blocks.append(inner)
            else:
                found.append(Component(block.group(1), block.group(2) or "", inner))
            stack.append(inner)
        elif line == "}":
            stack.pop()
        elif attribute and stack:
            stack[-1][attribute.group(1)] = attribute.group(2)
            if _depth(attribute.group(2)):
                value = (stack[-1], attribute.group(1))
        else:
            raise ValueError(f"not a line of the rendered subset of Alloy's syntax: {raw!r}")
    if stack or value is not None:
        raise ValueError("a block or a value is not closed at the end")
    return found


def dotted_names(value: str) -> list[tuple[str, bool]]:
    """The names a value calls or reaches through dots, outside its strings, each with whether
    it is called: ``sys.env("X")`` is a function, ``discovery.relabel.pi.output`` another
    component's export (``true``, ``null`` and object keys are neither)."""
    bare = _STRING.sub('""', value)
    return [
        (found.group(1), found.group(2) is not None)
        for found in _NAME.finditer(bare)
        if found.group(2) or "." in found.group(1)
    ]


def _depth(text: str) -> int:
    bare = _STRING.sub('""', text)
    return sum(bare.count(c) for c in "[{(") - sum(bare.count(c) for c in "]})")
