"""Findings: what `pledge check` reports, each with a precise location."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Location:
    """A point in a source file; line and column count from 1."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a manifest or dataset, formatted like a compiler message."""

    location: Location
    severity: Severity
    rule: str
    message: str
    hint: str | None = None
    path: tuple[str | int, ...] = field(default=(), compare=False)

    def format(self) -> str:
        text = f"{self.location}: {self.severity} {self.rule} {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "col": self.location.col,
            "severity": self.severity,
            "rule": self.rule,
            "message": self.message,
            "hint": self.hint,
            "path": ".".join(str(p) for p in self.path),
        }


def has_errors(findings: list[Finding] | tuple[Finding, ...]) -> bool:
    return any(f.severity == "error" for f in findings)
