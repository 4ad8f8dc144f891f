"""`pledge demo`: the example company, its product databases and the service, with no set-up.

The demo builds one installation (`pledge.runtime`) with the example manifest and its own
product databases as the connections, and serves it: the API and the worker share both, so
a request made in the privacy centre runs to its end. Nothing is written to the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pledge.cli.output import fail
from pledge.cli.serve import check_port_free, load_holder, run_or_exit
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
    from pledge.cli.db import store_errors
    from pledge.config import ensure_private_dir, get_settings
    from pledge.demo import SEED, connection_urls, find_example, issue_admin_key, prepare_databases
    from pledge.runtime.installation import open_installation
    from pledge.runtime.server import ServeOptions, configure_logging

    configure_logging("warning")
    given = {"data_dir": data_dir.expanduser().absolute()} if data_dir is not None else {}
    with store_errors():
        settings = get_settings(**given).serving_at("127.0.0.1", port)
    check_port_free(settings, port)
    try:
        example = manifest or find_example()
    except PledgeError as exc:
        fail(str(exc), 2)
    holder = load_holder(str(example))
    try:
        ensure_private_dir(settings.data_dir)  # before anything is made inside it
        databases = prepare_databases(holder.manifest, settings.data_dir / "demo", people, SEED)
    except (PledgeError, OSError) as exc:
        fail(f"cannot create the demo databases: {exc}", 2)
    with store_errors():
        installation = open_installation(
            settings, holder=holder, connections=connection_urls(databases), migrate=True
        )
        _, secret = issue_admin_key(installation.store)
    base = settings.public_url.rstrip("/")

    def ready() -> None:
        typer.echo(_banner(holder.manifest, databases, base, secret, people, not no_browser_hint))

    options = ServeOptions(host="127.0.0.1", port=port, start_worker=True, on_ready=ready)
    run_or_exit(installation, options)


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
