"""Helpers the commands share: printing findings and errors the same way everywhere."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

import typer

from pledge.files import write_atomic

if TYPE_CHECKING:
    from pledge.manifest.findings import Finding


def print_findings(findings: Sequence[Finding], fmt: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps([f.as_dict() for f in findings], indent=2, ensure_ascii=False))
        return
    for finding in findings:
        typer.echo(finding.format())


def summary(findings: Sequence[Finding]) -> str:
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def emit(text: str, output: str | None) -> None:
    """Print `text` (no output, or `-`), or write it to `output` atomically."""
    if output is None or output == "-":
        typer.echo(text, nl=False)
    else:
        write_atomic(output, text)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error to stderr and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    sys.exit(code)
