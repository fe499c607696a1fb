"""Plain-text tables and the list of targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Target", "format_table", "ms", "ratio"]


@dataclass(frozen=True)
class Target:
    """One target of issue 2: what was measured against what was asked."""

    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return {True: "MET", False: "MISSED", None: "NOT RUN"}[self.met]

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "goal": self.goal, "measured": self.measured, "met": self.met}


def ms(seconds: float) -> str:
    """Seconds as milliseconds with three significant-ish digits."""
    value = seconds * 1e3
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to fit; the first column left-aligned, the others right-aligned."""
    widths = [len(header) for header in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(widths[index]) if index == 0 else cell.rjust(widths[index])
            for index, cell in enumerate(cells)
        ]
        return "  " + "  ".join(parts).rstrip()

    rule = "  " + "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])
