"""CSV cells that a spreadsheet cannot take for a formula (OWASP "CSV injection").

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
common spreadsheet programs when a person opens their access package or an export; such a
cell gets a leading single quote, which those programs show as text. Used for every CSV file
Pledge writes from stored data, whoever wrote the data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """`value` with a leading `'` if it is text a spreadsheet would run; anything else as is.

    Numbers stay numbers (a negative number is data, not a formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """A row for `csv.writer.writerow` with every text cell neutralised."""
    return [neutralise(v) for v in values]
