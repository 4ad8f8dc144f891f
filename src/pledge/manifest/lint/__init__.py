"""Lint: the rules `pledge check` applies to a manifest that validated.

Each rule is a function registered with `@rule(ID)`; it receives a `Context` and yields
findings. Rules live in modules by theme (references, legal, rights, datasets, notices, languages).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pledge.manifest.findings import Finding, Location, Severity
from pledge.manifest.source import Path

if TYPE_CHECKING:
    from pledge.manifest.load import LoadedDataset, LoadResult
    from pledge.manifest.model import Manifest

RuleFn = Callable[["Context"], Iterable[Finding]]


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: Severity
    summary: str
    fn: RuleFn


RULES: dict[str, RuleInfo] = {}


def rule(rule_id: str, severity: Severity, summary: str) -> Callable[[RuleFn], RuleFn]:
    """Register a lint rule under a stable id (shown in findings and in docs/manifest.md)."""

    def register(fn: RuleFn) -> RuleFn:
        RULES[rule_id] = RuleInfo(rule_id, severity, summary, fn)
        return fn

    return register


@dataclass(frozen=True)
class Context:
    """What a rule may look at: the manifest, its datasets and where everything came from."""

    result: LoadResult
    cache: dict[str, object] = field(default_factory=dict, compare=False, hash=False)
    """Indexes rules share within one run (built by the first rule that needs them)."""

    @property
    def manifest(self) -> Manifest:
        assert self.result.manifest is not None
        return self.result.manifest

    def at(self, path: Path, key: bool = False) -> Location:
        assert self.result.source is not None
        return self.result.source.locate(path, key)

    def finding(
        self,
        rule_id: str,
        path: Path,
        message: str,
        hint: str | None = None,
        *,
        key: bool = False,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding for `rule_id` at `path` of the manifest file."""
        info = RULES[rule_id]
        return Finding(self.at(path, key), severity or info.severity, rule_id, message, hint, path)

    def dataset_finding(
        self,
        rule_id: str,
        dataset: LoadedDataset,
        path: Path,
        message: str,
        hint: str | None = None,
        *,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding for `rule_id` at `path` inside a dataset file."""
        info = RULES[rule_id]
        return Finding(
            dataset.source.locate(path), severity or info.severity, rule_id, message, hint, path
        )

    def datasets_of(self, system: str) -> Iterator[LoadedDataset]:
        """The loaded dataset files a system names (those that loaded)."""
        seen: set[str] = set()
        for ref in self.manifest.systems[system].datasets:
            loaded = self.result.datasets.get(ref)
            if loaded is not None and loaded.content is not None and ref not in seen:
                seen.add(ref)
                yield loaded


def all_rules() -> dict[str, RuleInfo]:
    """Every lint rule, by id (imports the rule modules so they register)."""
    _load_rule_modules()
    return RULES


def lint(result: LoadResult) -> list[Finding]:
    """Run every registered rule over a loaded manifest."""
    all_rules()
    context = Context(result)
    findings: list[Finding] = []
    for info in RULES.values():
        findings.extend(info.fn(context))
    return findings


def _load_rule_modules() -> None:
    from pledge.manifest.lint import (  # noqa: F401  (imported to register their rules)
        datasets,
        fides,
        languages,
        legal,
        notices,
        references,
        rights,
    )
