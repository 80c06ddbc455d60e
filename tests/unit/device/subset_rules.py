"""The device subset: what code that runs on CircuitPython may use (ARCHITECTURE §3).

``problems(path, source)`` lists every breach in one file as ``"line N: what"``. The allowed
built-in modules are ``sensor_bridge.bundle.CIRCUITPYTHON_BUILTINS`` (checked against every
supported board's module list by test_device_subset.py), so the bundle and this check agree.
"""

import ast
import functools
import io
import tokenize
from pathlib import Path

from sensor_bridge.bundle import (
    CIRCUITPYTHON_BUILTINS,
    handles_import_error,
    installed_libraries,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
FIRMWARE = REPO_ROOT / "firmware"
SHARED_PACKAGE = FIRMWARE / "lib" / "sensor_protocol"

DEVICE_FILES = sorted(
    path
    for path in [*FIRMWARE.rglob("*.py"), *(REPO_ROOT / "boards").glob("*.py")]
    if "__pycache__" not in path.parts
)
"""Every file that runs on a board, whoever wrote it."""

NEVER_ON_DEVICE = {
    "dataclasses": "dataclasses does not exist on CircuitPython",
    "enum": "enum does not exist on CircuitPython: use a class of int constants",
    "abc": "abc does not exist on CircuitPython",
    "typing_extensions": "typing_extensions does not exist on CircuitPython",
    "__future__": "__future__ does not exist on CircuitPython",
}
"""Modules refused even inside ``try``: code built on them cannot work without them."""

TYPING_MODULES = ("typing",)
BUILTIN_GENERICS = ("list", "dict", "tuple", "set", "frozenset", "type")


@functools.cache
def first_party_modules() -> frozenset[str]:
    """Top-level names the firmware provides itself (``firmware/lib/*`` and ``boards``)."""
    lib = FIRMWARE / "lib"
    names = {p.stem for p in lib.glob("*.py")}
    names |= {p.name for p in lib.iterdir() if (p / "__init__.py").is_file()}
    return frozenset(names | {"boards"})


def _guarded_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes inside a ``try`` that handles ImportError (its body and handlers)."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and handles_import_error(node):
            for part in node.body + [s for h in node.handlers for s in h.body]:
                guarded.update(id(n) for n in ast.walk(part))
    return guarded


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes inside annotations: MicroPython never evaluates those."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(n) for root in roots for n in ast.walk(root)}


def _import_problems(
    tree: ast.AST, guarded: set[int], shared: bool, known: frozenset[str]
) -> tuple[list[str], set[str]]:
    found: list[str] = []
    typing_names: set[str] = set()
    for node in ast.walk(tree):
        modules: list[tuple[str, str | None]]
        if isinstance(node, ast.Import):
            modules = [(alias.name, alias.asname or alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [(node.module, None)]
            if node.module.split(".")[0] in TYPING_MODULES:
                typing_names |= {alias.asname or alias.name for alias in node.names}
        else:
            continue
        for module, bound in modules:
            top = module.split(".")[0]
            where = f"line {node.lineno}: "
            if top in NEVER_ON_DEVICE:
                found.append(where + NEVER_ON_DEVICE[top])
            elif top in TYPING_MODULES:
                if bound:
                    typing_names.add(bound)
                if id(node) not in guarded:
                    found.append(where + "typing outside `try: ... except ImportError`")
            elif top == "micropython" and shared:
                found.append(where + "micropython imported in shared code (the host lacks it)")
            elif top not in known and id(node) not in guarded:
                found.append(
                    where + f"imports {top}, which is not built into CircuitPython on every "
                    "supported board nor an installed CircuitPython library"
                )
    return found, typing_names


def _runtime_typing(tree: ast.AST, typing_names: set[str], annotations: set[int]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if id(node) in annotations:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in typing_names:
                found.append(f"line {node.lineno}: typing name {node.id} used at run time")
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id in BUILTIN_GENERICS
        ):
            found.append(
                f"line {node.lineno}: {node.value.id}[...] at run time (no PEP 585 on device)"
            )
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            sides = (node.left, node.right)
            if any(isinstance(s, ast.Constant) and s.value is None for s in sides):
                found.append(f"line {node.lineno}: `X | None` type at run time")
    return found


def _const_problems(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_const = (isinstance(func, ast.Name) and func.id == "const") or (
            isinstance(func, ast.Attribute) and func.attr == "const"
        )
        if not is_const:
            continue
        if len(node.args) != 1 or not _is_int_expression(node.args[0]):
            found.append(f"line {node.lineno}: const() of something other than an int")
    return found


def _is_int_expression(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _is_int_expression(node.operand)
    if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.Div):
        return _is_int_expression(node.left) and _is_int_expression(node.right)
    # Another const() or an upper-case module constant: MicroPython folds those.
    return isinstance(node, ast.Name) and node.id.isupper()


def _self_documenting_fstrings(source: str) -> list[str]:
    """f-strings with the ``=`` specifier (``f"{x=}"``), which CircuitPython lacks.

    The parsed tree cannot tell ``f"{x=}"`` from ``f"x={x!r}"``, so this reads the tokens.
    """
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.STRING:
            continue
        prefix = token.string[: len(token.string) - len(token.string.lstrip("rRbBuUfF"))]
        if "f" in prefix.lower():
            for field in _replacement_fields(token.string[len(prefix) :]):
                if _ends_with_self_document(field):
                    found.append(f"line {token.start[0]}: f-string `=` specifier in {{{field}}}")
    return found


def _replacement_fields(body: str) -> list[str]:
    fields: list[str] = []
    depth = start = index = 0
    while index < len(body):
        char = body[index]
        if depth == 0 and body.startswith(("{{", "}}"), index):
            index += 2
            continue
        if char == "{":
            if depth == 0:
                start = index + 1
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                fields.append(body[start:index])
        index += 1
    return fields


def _ends_with_self_document(field: str) -> bool:
    depth = 0
    for index, char in enumerate(field):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and char in "!:" and field[index : index + 2] != "!=":
            field = field[:index]
            break
    expression = field.rstrip()
    return expression.endswith("=") and not expression.endswith(("==", "!=", "<=", ">="))


def problems(path: Path, source: str | None = None) -> list[str]:
    """Every breach of the device subset in ``path`` (``source`` overrides its text)."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    shared = SHARED_PACKAGE in path.resolve().parents
    known = CIRCUITPYTHON_BUILTINS | first_party_modules() | installed_libraries()
    found, typing_names = _import_problems(tree, _guarded_nodes(tree), shared, known)
    found += _runtime_typing(tree, typing_names, _annotation_nodes(tree))
    found += _const_problems(tree)
    found += _self_documenting_fstrings(text)
    return found
