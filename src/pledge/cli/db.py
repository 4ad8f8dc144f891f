"""`pledge db`: create and upgrade Pledge's own database; shared helpers for store commands."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from pledge.cli.output import fail
from pledge.errors import PledgeError

if TYPE_CHECKING:
    from pledge.store.db import Store

db_app = typer.Typer(
    name="db", help="Pledge's own database: migrate, inspect.", no_args_is_help=True
)


@contextmanager
def store_errors() -> Iterator[None]:
    """Show a Pledge error as one line on stderr and exit 2 (1 stays for "found a problem")."""
    try:
        yield
    except PledgeError as exc:
        fail(str(exc), 2)


def open_store() -> Store:
    """The store configured by the environment (PLEDGE_DATABASE_URL, PLEDGE_DATA_DIR …)."""
    from pledge.store.db import Store

    with store_errors():
        return Store.open()
    raise AssertionError("unreachable")  # pragma: no cover


def cli_actor() -> str:
    """Who runs a command, for the audit log: the operating-system account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def where(store: Store) -> str:
    return store.url.render_as_string(hide_password=True)


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Create or migrate the database to this version of Pledge (safe to run again)."""
    from pledge.store.migrations import current, upgrade
    from pledge.store.reindex import needs_reindex, reindex

    store = open_store()
    with store_errors():
        before = current(store)
        after = upgrade(store)
    change = "already up to date" if before == after else f"migrated from {before or 'empty'}"
    typer.echo(f"{where(store)}: at revision {after} ({change})")
    with store_errors():
        report = reindex(store, actor=cli_actor()) if needs_reindex(store) else None
    if report is not None:
        typer.echo(f"{report.checked} identities re-indexed for {report.new_format}")
        if report.conflicts:
            typer.echo(
                f"{len(report.conflicts)} identities are held by two subjects now; "
                "`pledge keys reindex` lists them",
                err=True,
            )


@db_app.command("current")
def current_command() -> None:
    """Show the database's revision and whether it needs `pledge db upgrade`."""
    from pledge.store.migrations import current, head

    store = open_store()
    with store_errors():
        at, want = current(store), head()
    state = "up to date" if at == want else f"needs `pledge db upgrade` to {want}"
    typer.echo(f"{where(store)}: revision {at or 'none (empty database)'}, {state}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app)
