"""docs/api.md shows the permission table the code enforces."""

from __future__ import annotations

from pathlib import Path

from pledge.api.permissions import markdown_table

DOC = Path(__file__).parents[2] / "docs" / "api.md"


def test_docs_show_the_permission_table_of_the_code() -> None:
    assert markdown_table() in DOC.read_text(encoding="utf-8")
