"""`pledge ropa`: the GDPR Art. 30 record of processing activities, from the manifest."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from pledge.cli.output import emit, fail
from pledge.errors import PledgeError


class Format(StrEnum):
    csv = "csv"
    json = "json"
    html = "html"


def ropa(
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest", "-m", help="Manifest file; default ./pledge.yaml or $PLEDGE_MANIFEST"
        ),
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", "-f", help="csv, json or html")
    ] = Format.csv,
    lang: Annotated[
        str,
        typer.Option("--lang", "-l", help="Language of the record: headings, fixed phrases, names"),
    ] = "en",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write to this file instead of stdout")
    ] = None,
) -> None:
    """Print or write the Art. 30(1) controller record and the Art. 30(2) processor record."""
    from pledge.manifest.load import default_path, load_manifest
    from pledge.notices.ropa import build_ropa, render

    try:
        loaded = load_manifest(manifest or default_path())
        if lang != "en" and lang not in loaded.languages:
            declared = ", ".join(loaded.languages)
            raise PledgeError(f"language '{lang}' is not declared in the manifest ({declared})")
        text = render(build_ropa(loaded, lang), format.value)
        emit(text, output)
    except PledgeError as exc:
        fail(str(exc))


def register(app: typer.Typer) -> None:
    app.command("ropa")(ropa)
