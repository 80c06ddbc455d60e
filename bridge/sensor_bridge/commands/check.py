"""``sensor-bridge check [DIR]``: validate every rendered file with the real tool of its service."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sensor_bridge.commands import site_option

if TYPE_CHECKING:
    from sensor_bridge.checks import CheckResult
    from sensor_bridge.render import RenderedFile


@click.command()
@site_option
@click.argument(
    "tree",
    metavar="[DIR]",
    required=False,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
)
@click.option("--strict", is_flag=True, help="A file no tool could check is a failure too.")
def check(site_file: str | None, tree: Path | None, strict: bool) -> None:
    """Check the tree DIR rendered from the site (default: render it to a temp dir first).

    Prints one row per file and tool, and exits 1 on any failure (with --strict, also on a
    file that was not checked because its tool is missing). Vector's own validate/test run
    when a vector binary exists; Vector is not packaged for test machines, so its absence
    is reported ("no binary here") but is no failure, even with --strict.
    """
    from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, UNAVAILABLE, CheckResult
    from sensor_bridge.tree import read_tree, render_site, write_tree

    if tree is None:
        with tempfile.TemporaryDirectory(prefix="sensor-bridge-check-") as tmp:
            files = render_site(site_file)
            write_tree(Path(tmp), files)
            results = run_checkers(Path(tmp), files)
    else:
        files, missing = read_tree(tree, render_site(site_file, [tree]))
        results = [
            CheckResult(path, "-", "-", FAILED, f"not in {tree}: run sensor-bridge render")
            for path in missing
        ]
        results += run_checkers(tree, files)
    _print_table(results)
    kinds = (OK, FAILED, NOT_CHECKED, UNAVAILABLE)
    counts = {r: sum(1 for x in results if x.result == r) for r in kinds}
    click.echo(", ".join(f"{count} {result}" for result, count in counts.items()))
    if counts[FAILED] or (strict and counts[NOT_CHECKED]):
        raise SystemExit(1)


def run_checkers(root: Path, files: Sequence[RenderedFile]) -> list[CheckResult]:
    """Every checker over every file (each picks its own); a file no checker took is listed."""
    from sensor_bridge.checks import NOT_CHECKED, CheckResult, checkers

    results: list[CheckResult] = []
    for checker in checkers().values():
        results += checker(root, files)
    covered = {r.file for r in results}
    results += [
        CheckResult(str(f.path), "-", "-", NOT_CHECKED, f"no checker is named {f.check!r}")
        for f in files
        if f.check is not None and str(f.path) not in covered
    ]
    return results


def _print_table(results: Sequence[CheckResult]) -> None:
    """file, tool, tool version, result; the detail of what is not OK on the line below."""
    from sensor_bridge.checks import OK

    header = ("file", "tool", "version", "result")
    rows = [(r.file, r.tool, r.version, r.result) for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row, result in zip([header, *rows], [None, *results], strict=True):
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        if result is not None and result.result != OK and result.detail:
            click.echo(f"    {result.detail}")
