"""`pledge notice`: render notices, the static notice site, or a just-in-time notice.

The group runs its own callback when no subcommand is given, so other modules can add
subcommands (`notice_app.command("publish")`) without touching this file.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from pledge.cli.output import emit, fail
from pledge.errors import ManifestError, PledgeError

if TYPE_CHECKING:
    from pledge.manifest.model import Manifest

notice_app = typer.Typer(
    name="notice",
    help="Render privacy notices from the manifest (one notice, the whole site, or a form's).",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
)


class Format(StrEnum):
    html = "html"
    md = "md"
    txt = "txt"


@notice_app.callback(invoke_without_command=True)
def notice(
    ctx: typer.Context,
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest", "-m", help="Manifest; default $PLEDGE_MANIFEST or ./pledge.yaml"
        ),
    ] = None,
    notice_id: Annotated[
        str | None, typer.Option("--id", help="Notice to render; default the first declared")
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", "-l", help="Language; default the manifest's first")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="html, md or txt")] = Format.html,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="File (or folder with --all); default stdout"),
    ] = None,
    all_notices: Annotated[
        bool, typer.Option("--all", help="Write the static site of every notice and language")
    ] = False,
    collection_point: Annotated[
        str | None,
        typer.Option("--collection-point", help="Print the just-in-time notice for this system"),
    ] = None,
    base_url: Annotated[
        str, typer.Option("--base-url", help="Prefix of the notice link in a just-in-time notice")
    ] = "",
) -> None:
    """Render one notice (stdout or --output), the site (--all --output DIR), or a form notice."""
    from pledge.manifest.load import DEFAULT_MANIFEST
    from pledge.notices.render import render_collection_point, render_notice
    from pledge.notices.site import load_history_for

    if ctx.invoked_subcommand is not None:
        return
    path = manifest or os.environ.get("PLEDGE_MANIFEST") or DEFAULT_MANIFEST
    try:
        loaded = _load(path)
        if all_notices:
            _write_site(loaded, path, output)
        elif collection_point is not None:
            emit(
                render_collection_point(loaded, collection_point, lang, notice_id, base_url), output
            )
        else:
            key = notice_id or _first_notice(loaded)
            history = load_history_for(path)
            emit(render_notice(loaded, key, lang, fmt.value, history), output)
    except PledgeError as exc:
        fail(str(exc).splitlines()[0])


def _load(path: str) -> Manifest:
    """The manifest, or one line naming the first error and how to see them all."""
    from pledge.manifest.load import load_manifest

    try:
        return load_manifest(path)
    except ManifestError as exc:
        errors = [f for f in exc.findings if f.severity == "error"]
        first = f"; first: {errors[0].format()}" if errors else ""
        raise PledgeError(
            f"{exc.args[0]} ({len(errors)}){first}; run `pledge check {path}` to see them all"
        ) from exc


def _first_notice(manifest: Manifest) -> str:
    if not manifest.notices:
        raise PledgeError("the manifest declares no notices; add one under `notices:`")
    return next(iter(manifest.notices))


def _write_site(manifest: Manifest, path: str, output: str | None) -> None:
    from pledge.notices.site import build_site, load_history_for

    if output is None:
        raise PledgeError("--all writes a folder: give it with --output DIR")
    site = build_site(manifest, output, load_history_for(path))
    typer.echo(f"wrote {site}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(notice_app, name="notice")
