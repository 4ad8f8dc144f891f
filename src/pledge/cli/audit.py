"""`pledge audit`: verify the hash chain, sign checkpoints, export for auditors."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pledge.cli.db import open_store, store_errors
from pledge.errors import OutputError

if TYPE_CHECKING:
    from pledge.consent.ledger import LedgerResult
    from pledge.store.db import Store

audit_app = typer.Typer(name="audit", help="The audit log and its proofs.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            "--checkpoint",
            help="A checkpoint JSON kept outside Pledge: the log must still contain it",
        ),
    ] = None,
) -> None:
    """Check every event's hash and link, and that the log holds every signed head it had.

    Exit 1 naming the first bad sequence number, also for an emptied, cut or rewound log.
    """
    from pledge.consent import ledger
    from pledge.store import audit
    from pledge.store.signing import Checkpoint

    store = open_store()
    with store_errors():
        anchor = Checkpoint.read(against) if against else None
        result = audit.verify(store, anchor)
        consent = ledger.verify(store)  # the consent log, bound to the chain
    if result.ok:
        typer.echo(result.summary())
    else:
        typer.echo(f"audit log verification FAILED: {result.summary()}")
        typer.echo(f"({result.events} events before it verified)", err=True)
    if not _consent_ok(consent) or not result.ok:
        sys.exit(1)


def _consent_ok(found: LedgerResult) -> bool:
    """Print what the consent log's check found; True when it is whole."""
    typer.echo(found.summary())
    for problem in found.problems:
        typer.echo(f"  consent record {problem}")
    return found.ok


@audit_app.command("checkpoint")
def checkpoint(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write the signed head to (default stdout)"),
    ] = None,
) -> None:
    """Sign the chain's current head (seq, hash, time, signature), to keep somewhere else.

    Also brings the external head file up to date.
    """
    from pledge.store import audit

    store = open_store()
    with store_errors():
        cp = audit.checkpoint(store)
        if output is not None:
            _write_file(output, cp.to_json() + "\n")
    if output is None:
        typer.echo(cp.to_json())
    else:
        typer.echo(f"checkpoint at seq {cp.seq} written to {output}", err=True)


@audit_app.command("export")
def export(
    since: Annotated[int, typer.Option("--since", min=0, help="Only events after this seq")] = 0,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default stdout)")
    ] = None,
) -> None:
    """Write events as JSON Lines, each with its hash and prev_hash, for an auditor."""
    from pledge.store import audit

    store = open_store()
    with store_errors():
        if output is None:
            count = audit.export(store, sys.stdout, since)
        else:
            count = _export_to_file(store, output, since)
    typer.echo(f"{count} events exported", err=True)


def _write_file(output: Path, text: str) -> None:
    """Write `text` to `output` whole or not at all (temporary file, then rename)."""
    tmp = output.with_name(f".{output.name}.partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{output}: cannot write the checkpoint ({exc.strerror})") from exc


def _export_to_file(store: Store, output: Path, since: int) -> int:
    """Write to a temporary file and rename it, so a failed export leaves no half file."""
    from pledge.store import audit

    tmp = output.with_name(f".{output.name}.partial")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            count = audit.export(store, out, since)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{output}: cannot write the export ({exc.strerror})") from exc
    return count


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app)
