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
    from pledge.store.db import Store

audit_app = typer.Typer(name="audit", help="The audit log and its proofs.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A checkpoint JSON kept outside Pledge to check against"),
    ] = None,
) -> None:
    """Check every event's hash and link; exit 1 naming the first bad sequence number."""
    from pledge.store import audit
    from pledge.store.signing import Checkpoint

    store = open_store()
    with store_errors():
        anchor = Checkpoint.read(checkpoint) if checkpoint else None
        result = audit.verify(store, anchor)
    if result.ok:
        typer.echo(result.summary())
        return
    typer.echo(f"audit log verification FAILED at seq {result.first_bad_seq}: {result.reason}")
    typer.echo(f"({result.events} events before it verified)", err=True)
    sys.exit(1)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign the chain's current head and print it as JSON, to keep somewhere else."""
    from pledge.store import audit

    store = open_store()
    with store_errors():
        cp = audit.checkpoint(store)
    typer.echo(cp.to_json())


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
