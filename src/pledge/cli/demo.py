"""`pledge demo`: the example company, its product databases and the service, with no set-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pledge.cli.output import fail
from pledge.cli.serve import (
    Service,
    configure_logging,
    load_holder,
    prepare_store,
    refuse_if_running,
    run,
)
from pledge.config import get_settings
from pledge.errors import PledgeError

if TYPE_CHECKING:
    from pledge.demo import DemoDatabase
    from pledge.manifest.model import Manifest


def demo(
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Where to keep everything; default $PLEDGE_DATA_DIR"),
    ] = None,
    people: Annotated[
        int, typer.Option("--people", min=10, max=100_000, help="Fictional people to create")
    ] = 300,
    manifest: Annotated[
        Path | None,
        typer.Option("--manifest", "-m", help="Example manifest; default examples/lumen"),
    ] = None,
    no_browser_hint: Annotated[
        bool, typer.Option("--no-browser-hint", help="Print the key and URL only")
    ] = False,
) -> None:
    """Run Pledge on the fictional Lumen Systems, with product databases of fictional people."""
    from pledge.demo import (
        SEED,
        export_connection_env,
        find_example,
        issue_admin_key,
        prepare_databases,
    )

    configure_logging("warning")
    if data_dir is not None:
        os.environ["PLEDGE_DATA_DIR"] = str(data_dir.expanduser().absolute())
    settings = get_settings()
    refuse_if_running(settings, port)
    try:
        example = manifest or find_example()
    except PledgeError as exc:
        fail(str(exc), 2)
    holder = load_holder(str(example))
    try:
        databases = prepare_databases(holder.manifest, settings.data_dir / "demo", people, SEED)
    except (PledgeError, OSError) as exc:
        fail(f"cannot create the demo databases: {exc}", 2)
    export_connection_env(databases)
    store = prepare_store()
    _, secret = issue_admin_key(store)
    base = f"http://127.0.0.1:{port}"

    def ready() -> None:
        typer.echo(_banner(holder.manifest, databases, base, secret, people, not no_browser_hint))

    run(
        Service(
            store.settings,
            store,
            holder,
            host="127.0.0.1",
            port=port,
            start_worker=True,
            on_ready=ready,
        )
    )


def _banner(
    manifest: Manifest,
    databases: list[DemoDatabase],
    base: str,
    secret: str,
    people: int,
    hints: bool,
) -> str:
    org = manifest.organization.name
    created = any(db.created for db in databases)
    rows = sum(db.rows for db in databases)
    where = databases[0].path.parent if databases else "-"
    state = "created" if created else "reused"
    lines = [
        "",
        f"Pledge demo: {org} (fictional) is running at {base}",
        f"  {len(databases)} product databases ({rows} rows about fictional people) {state} in "
        f"{where}" + ("" if created else f" (--people {people} applies to new data folders)"),
        "",
    ]
    if hints:
        first = next(iter(manifest.notices), None)
        lines.append("Open in your browser:")
        lines.append(f"  Privacy centre      {base}/privacy")
        lines.append(f"  Make a request      {base}/privacy/requests")
        if first is not None:
            for code in manifest.languages:
                lines.append(f"  Notice ({code})         {base}/notices/{first}?lang={code}")
        lines.append(f"  All notices         {base}/notices/")
        lines.append(f"  Your choices        {base}/privacy/choices")
        lines.append(f"  Sample site, banner {base}/consent/demo")
        lines.append(f"  API documentation   {base}/docs   (OpenAPI: {base}/openapi.json)")
        if databases:  # <data_dir>/demo/*.db: the outbox is <data_dir>/outbox
            outbox = databases[0].path.parent.parent / "outbox"
            lines.append(f"  Mail (codes, links) {outbox}   (unless PLEDGE_SMTP_URL is set)")
        lines.append("")
    lines += [
        "Admin API key (shown only now; a new one is made each run):",
        f"  {secret}",
        f'  curl -H "Authorization: Bearer {secret}" "{base}/v1/audit?limit=5"',
        "",
        "Stop with Ctrl-C.",
    ]
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
