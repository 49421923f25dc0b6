"""A measured figure: median with min and max, as every row of the benchmark table shows."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Figure:
        if not values:
            raise ValueError("No values measured.")
        return cls(statistics.median(values), min(values), max(values))

    def show(self, unit: str = "", digits: int = 0) -> str:
        """`12 ms (10–15)`; the range left out when every value was the same."""
        fmt = f"{{:,.{digits}f}}"
        text = fmt.format(self.median) + (f" {unit}" if unit else "")
        if self.low != self.high:
            text += f" ({fmt.format(self.low)}–{fmt.format(self.high)})"
        return text
