"""`pledge.csvsafe`: cells a spreadsheet would run as formulas get a leading quote (OWASP)."""

from __future__ import annotations

import pytest

from pledge.csvsafe import neutralise, safe_row


@pytest.mark.parametrize("cell", ["=1+1", "+47 22 00 00 00", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starts_are_quoted(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Alice", "", "a=b", "'quoted", 5, -3, 1.5, None, True])
def test_everything_else_is_kept(cell: object) -> None:
    assert neutralise(cell) == cell


def test_a_row() -> None:
    assert safe_row(["=x", "y", -1]) == ["'=x", "y", -1]
