"""`pledge schema`: the JSON Schema of pledge.yaml, for editors."""

from __future__ import annotations

import json

import typer

from pledge.manifest.schema import manifest_schema


def schema() -> None:
    """Print the JSON Schema of the manifest format (format 1)."""
    typer.echo(json.dumps(manifest_schema(), indent=2, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.command()(schema)
