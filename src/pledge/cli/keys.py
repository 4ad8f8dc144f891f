"""`pledge keys`: API keys (create, list, revoke), master key and receipt key rotation."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pledge import apikeys
from pledge.cli.db import cli_actor, open_store, store_errors
from pledge.cli.output import fail

if TYPE_CHECKING:
    from pledge.store.reindex import ReindexReport

keys_app = typer.Typer(
    name="keys", help="API keys, the master key and the receipt key.", no_args_is_help=True
)


class Format(StrEnum):
    text = "text"
    json = "json"


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for (shown in lists)")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(apikeys.ROLES)}")],
) -> None:
    """Create an API key and print its secret — the only time it is shown."""
    if role not in apikeys.ROLES:
        fail(f"unknown role {role!r}; use one of {', '.join(apikeys.ROLES)}", 2)
    store = open_store()
    with store_errors(), store.transaction() as session:
        record, secret = apikeys.create(session, name, role, actor=cli_actor())
    typer.echo(secret)
    typer.echo(
        f"created key {record.id} ({record.role}); store the secret now, it is not kept",
        err=True,
    )


@keys_app.command("list")
def list_command(
    format: Annotated[Format, typer.Option("--format", "-f", help="text or json")] = Format.text,
) -> None:
    """List API keys (never their secrets)."""
    store = open_store()
    with store_errors(), store.reader() as session:
        records = apikeys.list_keys(session)
    if format is Format.json:
        rows = [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "created_at": r.created_at.isoformat(),
                "created_by": r.created_by,
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            }
            for r in records
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in records:
        state = f"revoked {r.revoked_at:%Y-%m-%d}" if r.revoked_at else "active"
        typer.echo(f"{r.id}  {r.role:<16} {state:<18} {r.created_at:%Y-%m-%d}  {r.name}")
    if not records:
        typer.echo("no API keys yet; create one with `pledge keys create`", err=True)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `pledge keys list`)")],
) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    store = open_store()
    with store_errors(), store.transaction() as session:
        record = apikeys.revoke(session, key_id, actor=cli_actor())
    typer.echo(f"key {record.id} revoked")


@keys_app.command("rotate-master")
def rotate(
    new_key_file: Annotated[
        Path | None,
        typer.Option("--new-key-file", help="Use this key (else a new one is generated)"),
    ] = None,
    keep_old: Annotated[
        bool, typer.Option("--keep-old", help="Keep the old key as master.key.<id>.retired")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000)] = 500,
) -> None:
    """Re-wrap every subject's data key under a new master key, while Pledge keeps running."""
    from pledge.store.rotation import rotate_master

    store = open_store()
    with store_errors():
        report = rotate_master(
            store, new_key_file, actor=cli_actor(), batch_size=batch_size, keep_old=keep_old
        )
    verb = "resumed and finished" if report.resumed else "finished"
    typer.echo(
        f"rotation {verb}: master key {report.old_key_id} -> {report.new_key_id}, "
        f"{report.rewrapped} data keys re-wrapped"
    )
    if report.old_key_file:
        typer.echo(f"old key kept in {report.old_key_file}", err=True)
    else:
        typer.echo("old key file removed; back up the new master key file now", err=True)


@keys_app.command("reindex")
def reindex_command(
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000)] = 500,
) -> None:
    """Recompute the vault's blind indexes under this version's identity rules.

    Needed after upgrading from a version that indexed e-mail and phone numbers differently,
    and after changing PLEDGE_PHONE_REGION; `pledge db upgrade` runs it when needed.
    """
    from pledge.store.reindex import reindex

    store = open_store()
    with store_errors():
        report = reindex(store, actor=cli_actor(), batch_size=batch_size)
    typer.echo(reindex_summary(report))
    for subject in report.conflicts:
        typer.echo(
            f"subject {subject}: holds an identity another subject holds too; merge them",
            err=True,
        )


def reindex_summary(report: ReindexReport) -> str:
    counts = ", ".join(f"{n} {what}" for what, n in sorted(report.outcomes.items()))
    return (
        f"blind index {report.old_format or 'v1'} -> {report.new_format}: "
        f"{report.checked} identities checked ({counts or 'none stored'})"
    )


@keys_app.command("rotate-receipts")
def rotate_receipts() -> None:
    """Sign consent receipts with a new key from now on; every earlier receipt still verifies.

    The old key's public half stays in the JWKS with its validity period; its private half is
    destroyed. A rotation that stopped half-way is finished by running this again.
    """
    from pledge.consent import receipts

    store = open_store()
    with store_errors():
        done = receipts.rotate(store, actor=cli_actor())
    verb = "resumed and finished" if done.resumed else "finished"
    retired = ", ".join(done.retired) or "none"
    typer.echo(f"receipt key rotation {verb}: signing with {done.new_kid}, retired {retired}")
    typer.echo(
        f"back up {store.settings.data_dir / receipts.JWKS_FILE}: receipts of retired keys "
        "verify only through it (and the audit event that records them)",
        err=True,
    )


@keys_app.command("receipt-keys")
def receipt_keys(
    format: Annotated[Format, typer.Option("--format", "-f", help="text or json")] = Format.text,
) -> None:
    """List the keys in the receipt JWKS: the current one first, with validity periods."""
    from pledge.config import get_settings
    from pledge.consent import receipts

    data_dir = get_settings().data_dir
    with store_errors():
        signer = receipts.ReceiptSigner(data_dir)
        if not signer.key_path.exists():
            fail(f"{signer.key_path}: no receipt key yet (made with the first receipt)", 1)
        published = signer.published()
    if format is Format.json:
        typer.echo(json.dumps({"keys": [k.jwk() for k in published]}, indent=2))
        return
    for number, key in enumerate(published):
        state = "current" if number == 0 else "retired"
        period = f"{key.valid_from or 'before publication'} .. {key.valid_until or 'now'}"
        typer.echo(f"{key.kid}  {state:<8} {period}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app)
