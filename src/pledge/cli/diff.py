"""`pledge diff`: what changed between two manifests, and which changes are material."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from pledge.manifest.diff import Change, diff, summary
from pledge.manifest.findings import has_errors
from pledge.manifest.load import load
from pledge.manifest.model import Manifest

EXIT_MATERIAL = 3


class Format(StrEnum):
    text = "text"
    json = "json"


def diff_command(
    old: Annotated[str, typer.Argument(help="The manifest as it was (e.g. the released one)")],
    new: Annotated[str, typer.Argument(help="The manifest as it is now")],
    format: Annotated[Format, typer.Option("--format", "-f", help="text or json")] = Format.text,
    fail_on_material: Annotated[
        bool, typer.Option("--fail-on-material", help="Exit 3 when any change is material (CI)")
    ] = False,
) -> None:
    """Compare two manifests: exit 0 (informational), 3 with --fail-on-material and a material
    change, 1 when a manifest is invalid, 2 when one cannot be read or parsed."""
    before, code_old = _load(old)
    after, code_new = _load(new)
    if before is None or after is None:
        sys.exit(max(code_old, code_new))
    changes = diff(before, after)
    if format is Format.json:
        typer.echo(json.dumps(_as_json(changes), indent=2, ensure_ascii=False))
    else:
        for line in format_changes(changes):
            typer.echo(line)
        typer.echo(_summary_line(changes))
    if fail_on_material and any(c.material for c in changes):
        sys.exit(EXIT_MATERIAL)


def _load(path: str) -> tuple[Manifest | None, int]:
    """The manifest at `path`, or None with the exit code and its errors printed to stderr.

    Uses `load` (what `load_manifest(lint=False)` does) to tell unreadable from invalid; lint
    findings do not block a diff, which only compares what the two files declare."""
    result = load(path)
    if result.manifest is not None and not has_errors(result.findings):
        return result.manifest, 0
    for finding in result.findings:
        if finding.severity == "error":
            typer.echo(finding.format(), err=True)
    problem = "cannot be read" if result.unreadable else "has errors"
    typer.echo(f"error: {result.file}: the manifest {problem}", err=True)
    return None, 2 if result.unreadable else 1


def format_changes(changes: list[Change]) -> list[str]:
    """One change a line in tidy columns: MATERIAL/minor, kind, path, summary (reason)."""
    kind_width = max((len(c.kind) for c in changes), default=0)
    path_width = max((len(c.path) for c in changes), default=0)
    return [
        f"{'MATERIAL' if c.material else 'minor':<8}  {c.kind:<{kind_width}}  "
        f"{c.path:<{path_width}}  {c.summary} ({c.reason})"
        for c in changes
    ]


def _summary_line(changes: list[Change]) -> str:
    material = sum(c.material for c in changes)
    if not changes:
        return "no changes"
    verdict = "material: a notice update is needed" if material else "no material change"
    return f"{len(changes)} change{'s' * (len(changes) != 1)}, {material} material ({verdict})"


def _as_json(changes: list[Change]) -> dict[str, object]:
    return {
        "material": any(c.material for c in changes),
        "summary": summary(changes),
        "changes": [c.as_dict() for c in changes],
    }


def register(app: typer.Typer) -> None:
    app.command("diff")(diff_command)
