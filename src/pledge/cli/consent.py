"""`pledge consent`: the consent log from the command line (import from another consent tool).

`import` runs the same checks and writes as `POST /v1/consent/import` (pledge.consent.importer),
without the API's body limit: the file is read in chunks. Exit 0 when every record was
imported (or had been before), 1 when records were refused, 2 when the file, the manifest or
the database cannot be used.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pledge.cli.db import cli_actor, open_store, store_errors
from pledge.cli.output import fail

if TYPE_CHECKING:
    from pledge.consent import importer

consent_app = typer.Typer(
    name="consent",
    help="The consent log: import records from another tool, hash old device ids.",
    no_args_is_help=True,
)


class FileFormat(StrEnum):
    ndjson = "ndjson"
    json = "json"
    csv = "csv"


@consent_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="Records as NDJSON (.ndjson, .jsonl), one JSON array (.json) or CSV (.csv)",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    partial: Annotated[
        bool, typer.Option("--partial", help="Import the good records, report the bad ones")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check all, write nothing")] = False,
    notice_versions: Annotated[
        list[str] | None,
        typer.Option(
            "--notice-version", help="A notice version of the tool you import from (repeatable)"
        ),
    ] = None,
    file_format: Annotated[
        FileFormat | None, typer.Option("--format", help="Default: from the file's extension")
    ] = None,
    manifest: Annotated[
        str | None,
        typer.Option("--manifest", "-m", help="Default: $PLEDGE_MANIFEST or ./pledge.yaml"),
    ] = None,
    receipts: Annotated[
        Path | None,
        typer.Option("--receipts", help="Write each record's line, id and receipt here (NDJSON)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Import consent records from another consent tool: all or nothing, unless --partial.

    Importing the same file again adds nothing (each record has an import key).
    """
    from pledge.consent import import_formats, importer
    from pledge.files import write_atomic
    from pledge.manifest.load import default_path, load_manifest

    fmt = file_format.value if file_format else import_formats.format_of(file.name)
    if fmt is None:
        fail(f"{file}: cannot tell the format from the name; give --format ndjson|json|csv", 2)
    store = open_store()
    with store_errors():
        chosen = load_manifest(manifest or default_path())
        options = importer.ImportOptions(
            actor=cli_actor(),
            issuer=store.settings.public_url.rstrip("/"),
            format=fmt,
            partial=partial,
            dry_run=dry_run,
            notice_versions=frozenset(notice_versions or ()),
        )
        try:
            result = importer.import_file(store, chosen, file, options)
        except import_formats.ImportFileError as exc:
            fail(f"{file}:{exc.line}: {exc.detail}; nothing was imported", 2)
        if receipts is not None and not result.refused:
            lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in result.records]
            write_atomic(receipts, "".join(lines))
    _report(file, result, as_json)


def _report(file: Path, result: importer.ImportResult, as_json: bool) -> None:
    summary = result.summary(max_errors=len(result.errors))
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        for error in result.errors:
            where = f"{file}:{error['line']}: " + (
                f"{error['pointer']}: " if error["pointer"] else ""
            )
            typer.echo(where + error["detail"], err=True)
        typer.echo(_sentence(result, summary["imported"], summary["already_imported"]))
    if result.errors:
        raise typer.Exit(1)


def _sentence(result: importer.ImportResult, imported: int, already: int) -> str:
    rejected = f"{result.rejected} of {result.rows} records refused"
    if result.refused:
        verb = "would be" if result.options.dry_run else "was"
        return f"nothing {verb} imported: {rejected}; fix them, or use --partial"
    if result.options.dry_run:
        would = result.count("would_import")
        return f"dry run: {would} would be imported, {already} imported before; {rejected}"
    batch = f" (batch {result.batch})" if imported else ""
    return f"imported {imported}, {already} imported before, {rejected}{batch}"


@consent_app.command("hash-device-ids")
def hash_device_ids_command() -> None:
    """Replace device ids stored in clear (before 0006) by their keyed references, once.

    Re-signs the receipts of the records it changes and audits it; running it again changes
    nothing. Run it after `pledge db upgrade`: migrations cannot open the vault that holds the
    key.
    """
    from pledge.consent import rehash

    store = open_store()
    with store_errors():
        records, limits = rehash.hash_device_ids(store, actor=cli_actor())
    typer.echo(f"{records} consent records and {limits} processing limits rewritten")


def register(app: typer.Typer) -> None:
    app.add_typer(consent_app)
