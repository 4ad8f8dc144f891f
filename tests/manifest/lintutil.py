"""Helpers for lint tests: a copy of the small valid manifest to break, and finding checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pledge.manifest.findings import Finding
from pledge.manifest.load import LoadResult, check

FIXTURE = Path(__file__).parent.parent / "fixtures" / "small"


@dataclass
class Small:
    """The small fixture manifest in a temporary directory."""

    root: Path

    @property
    def path(self) -> Path:
        return self.root / "pledge.yaml"

    def edit(self, old: str, new: str, file: str = "pledge.yaml") -> None:
        """Replace the one occurrence of `old` in `file` (fails loudly if it is not unique)."""
        target = self.root / file
        text = target.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {file}"
        target.write_text(text.replace(old, new), encoding="utf-8")

    def loc(self, needle: str, file: str = "pledge.yaml", within: str = "") -> str:
        """`file:line:col` where `needle` first occurs (after the start of `within`)."""
        text = (self.root / file).read_text(encoding="utf-8")
        at = text.index(needle, text.index(within))
        line = text.count("\n", 0, at) + 1
        col = at - (text.rfind("\n", 0, at) + 1) + 1
        return f"{self.root / file}:{line}:{col}"

    def check(self) -> LoadResult:
        return check(self.path)

    def findings(self, rule: str) -> list[Finding]:
        return [f for f in self.check().findings if f.rule == rule]

    def rules(self) -> set[str]:
        return {f.rule for f in self.check().findings}

    def one(self, rule: str) -> Finding:
        """The single finding of `rule` (fails if there are none or several)."""
        found = self.findings(rule)
        assert len(found) == 1, [f.format() for f in self.check().findings]
        return found[0]


def assert_at(finding: Finding, where: str, severity: str = "error") -> None:
    """The finding is at `where` (file:line:col) with `severity`."""
    assert (str(finding.location), finding.severity) == (where, severity), finding.format()
