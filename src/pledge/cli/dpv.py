"""`pledge dpv`: the manifest as JSON-LD in the W3C Data Privacy Vocabulary."""

from __future__ import annotations

from typing import Annotated

import typer

from pledge.cli.output import emit, fail
from pledge.errors import PledgeError


def dpv(
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest", "-m", help="Manifest file; default ./pledge.yaml or $PLEDGE_MANIFEST"
        ),
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write to this file instead of stdout")
    ] = None,
) -> None:
    """Print or write the processing the manifest declares as DPV JSON-LD (context embedded)."""
    from pledge.manifest.load import default_path, load_manifest
    from pledge.notices.dpv import dumps

    try:
        text = dumps(load_manifest(manifest or default_path()))
        emit(text, output)
    except PledgeError as exc:
        fail(str(exc))


def register(app: typer.Typer) -> None:
    app.command("dpv")(dpv)
