"""`pledge gpc-json`: the site's `/.well-known/gpc.json` resource (P-S17)."""

from __future__ import annotations

from typing import Annotated

import typer

from pledge.cli.output import fail
from pledge.errors import PledgeError


def gpc_json(
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest", "-m", help="Manifest file; default ./pledge.yaml or $PLEDGE_MANIFEST"
        ),
    ] = None,
) -> None:
    """Print the gpc.json resource: whether Global Privacy Control is honoured, and since when."""
    from pledge.manifest.load import default_path, load_manifest
    from pledge.notices.gpc import dumps, gpc_resource
    from pledge.notices.versions import load_history

    path = manifest or default_path()
    try:
        resource = gpc_resource(load_manifest(path), load_history(path))
    except PledgeError as exc:
        fail(str(exc))
    typer.echo(dumps(resource), nl=False)


def register(app: typer.Typer) -> None:
    app.command("gpc-json")(gpc_json)
