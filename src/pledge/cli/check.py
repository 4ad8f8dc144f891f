"""`pledge check`: validate and lint a manifest like a compiler."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from pledge.cli.output import print_findings, summary
from pledge.manifest.findings import has_errors
from pledge.manifest.load import check as check_manifest


class Format(StrEnum):
    text = "text"
    json = "json"


def check(
    path: Annotated[
        str | None, typer.Argument(help="Manifest file; default ./pledge.yaml or $PLEDGE_MANIFEST")
    ] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="text or json")] = Format.text,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too")] = False,
    connect: Annotated[
        bool,
        typer.Option(
            "--connect", help="Also compare the datasets with the live databases (read-only)"
        ),
    ] = False,
) -> None:
    """Check a manifest: exit 0 when clean, 1 with errors, 2 when it cannot be read or parsed."""
    result = check_manifest(path)
    if connect and result.manifest is not None and not result.unreadable:
        from pledge.requests.preflight import preflight  # heavy: only when asked

        result.findings.extend(preflight(result))
    print_findings(result.findings, format.value)
    if format is Format.text:
        typer.echo(f"{result.file}: {summary(result.findings)}", err=True)
    if result.unreadable:
        sys.exit(2)
    failing = has_errors(result.findings) or (strict and bool(result.findings))
    sys.exit(1 if failing else 0)


def register(app: typer.Typer) -> None:
    app.command()(check)
