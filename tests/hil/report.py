"""What the suite measured on the board, printed at the end of the run.

Cases add lines with ``report.measured(case, what, value)``; a case that could not run says
why with ``report.not_run(case, reason)`` (the conftest does so for a case left out for want
of its options: ``@pytest.mark.needs``); the soak adds its table.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    port: str
    measurements: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, list[str]]] = field(default_factory=list)

    def measured(self, case: str, what: str, value: object) -> None:
        self.measurements.append((case, what, str(value)))

    def not_run(self, case: str, reason: str) -> None:
        self.skipped.append((case, reason))

    def table(self, title: str, rows: list[list[str]]) -> None:
        """``rows`` with the header first; columns right-aligned."""
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        self.tables.append(
            (
                title,
                [
                    "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
                    for row in rows
                ],
            )
        )

    def lines(self) -> list[str]:
        out = [f"board on {self.port}"]
        case_width = max((len(case) for case, _, _ in self.measurements), default=0)
        what_width = max((len(what) for _, what, _ in self.measurements), default=0)
        for case, what, value in self.measurements:
            out.append(f"  {case.ljust(case_width)}  {what.ljust(what_width)}  {value}")
        for title, rows in self.tables:
            out += ["", title, *("  " + row for row in rows)]
        if self.skipped:
            out += ["", "not run:"]
            out += [f"  {case}: {reason}" for case, reason in self.skipped]
        return out
