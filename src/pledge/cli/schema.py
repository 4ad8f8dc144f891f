"""`pledge schema`: the manifest format as JSON Schema (editors) or Markdown (people)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from pledge.manifest.schema import manifest_schema, reference


class Format(StrEnum):
    json = "json"
    markdown = "markdown"


def schema(
    format: Annotated[
        Format, typer.Option("--format", "-f", help="json or markdown")
    ] = Format.json,
) -> None:
    """Print the manifest format (format 1): JSON Schema, or the Markdown reference."""
    if format is Format.markdown:
        typer.echo(reference(), nl=False)
    else:
        typer.echo(json.dumps(manifest_schema(), indent=2, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.command()(schema)
