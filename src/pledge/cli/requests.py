"""`pledge requests`: staff enter requests received by post or phone, and follow them.

`submit --verified --reason …` is the staff member attesting they verified the person
themselves (and any `--identity` given); the audit event names the operating-system account
that ran the command, and such a request waits for someone else's `approve` unless the
manifest says `staff_attested: trusted`. `show` is a read of personal data and is audited.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pledge.cli.db import cli_actor, open_store, store_errors
from pledge.cli.output import fail
from pledge.config import get_settings

if TYPE_CHECKING:
    from pledge.manifest.model import Manifest
    from pledge.runtime.installation import Installation
    from pledge.store.db import Store

requests_app = typer.Typer(
    name="requests", help="Data subject requests: enter, list, act.", no_args_is_help=True
)


def _installation() -> Installation:
    """The installation with the configured manifest (PLEDGE_MANIFEST), or exit 2 saying why."""
    from pledge.runtime.installation import open_installation

    with store_errors():
        settings = get_settings()
        installation = open_installation(settings, manifest=settings.manifest)
        installation.manifest  # noqa: B018  (no manifest configured: say so now)
        return installation
    raise AssertionError("unreachable")  # pragma: no cover


def _open() -> tuple[Store, Manifest]:
    installation = _installation()
    return installation.store, installation.manifest


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@requests_app.command("submit")
def submit(
    kind: Annotated[str, typer.Option("--kind", help="access, erasure, rectification, …")],
    email: Annotated[str, typer.Option("--email", help="The person's e-mail address")],
    verified: Annotated[bool, typer.Option("--verified", help="You verified them")] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="How you verified them (with --verified)")
    ] = None,
    identity: Annotated[
        list[str] | None,
        typer.Option("--identity", help="KIND=VALUE you verified too (user_id=…); repeatable"),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Run it here until it is done")] = False,
    country: Annotated[str | None, typer.Option("--country")] = None,
    jurisdiction: Annotated[str | None, typer.Option("--jurisdiction")] = None,
    language: Annotated[str | None, typer.Option("--language")] = None,
    details: Annotated[str | None, typer.Option("--details")] = None,
) -> None:
    """Enter a request received by post or phone."""
    from pledge.requests import service

    installation = _installation()
    store, manifest = installation.store, installation.manifest
    intake = service.Intake(
        kind=kind,
        email=email,
        country=country,
        jurisdiction=jurisdiction,
        language=language,
        details=details,
        identities=_identities(identity or []),
        channel="staff",
    )
    with store_errors(), store.transaction() as session:
        done = service.submit(
            session,
            manifest,
            intake,
            actor=cli_actor(),
            public_url=store.settings.public_url,
            verified=verified,
            reason=reason,
        )
    typer.echo(f"{done.reference}  {done.id}  {done.state}  due {done.due_at:%Y-%m-%d}")
    if wait:
        _wait(installation, done.id)


def _identities(pairs: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        kind, sep, value = pair.partition("=")
        if not sep or not kind.strip() or not value.strip():
            fail(f"--identity {kind.strip() or '?'}: write it as KIND=VALUE", 2)
        found[kind.strip()] = value.strip()
    return found


def _wait(installation: Installation, request_id: str, timeout: float = 600.0) -> None:
    from pledge.requests import service
    from pledge.runtime.workers import load_handler_modules

    load_handler_modules()
    store = installation.store
    worker = installation.worker(poll_interval=0.05)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.run(threading.Event(), once=True)
        with store.reader() as session:
            req = service.get(session, request_id)
            if req.state not in ("in_progress", "verified"):
                typer.echo(f"{req.reference}: {req.state}")
                if req.state == "failed":
                    raise typer.Exit(1)
                return
        time.sleep(0.2)
    fail("the request did not finish in time; see `pledge requests show`", 1)


@requests_app.command("list")
def list_command(
    state: Annotated[str | None, typer.Option("--state")] = None,
    kind: Annotated[str | None, typer.Option("--kind")] = None,
    sla: Annotated[str | None, typer.Option("--sla", help="on_track, due_soon, overdue")] = None,
) -> None:
    """Requests by due date, with their SLA state."""
    from pledge.requests import service

    store = open_store()
    with store_errors(), store.reader() as session:
        rows = service.list_requests(session, service.Filter(state, kind, sla))
        for r in rows:
            d = service.describe(r)
            flag = " extended" if r.extended else ""
            typer.echo(
                f"{r.reference}  {r.kind:<22} {r.state:<18} due {d['due_at']:%Y-%m-%d}  "
                f"{d['sla']}{flag}"
            )
    if not rows:
        typer.echo("no requests", err=True)


@requests_app.command("show")
def show(
    request_id: Annotated[str, typer.Argument(help="Id or reference")],
    purpose: Annotated[
        str | None, typer.Option("--purpose", help="Why you read it (recorded in the audit log)")
    ] = None,
) -> None:
    """One request with every step (no identity, no corrections); the read is audited."""
    from pledge.requests import service

    store = open_store()
    with store_errors():
        store.vault  # noqa: B018  (opened outside any transaction)
        with store.transaction() as session:
            shown = service.details_of(session, request_id, actor=cli_actor(), purpose=purpose)
    shown.pop("notes", None)
    for step in shown["steps"]:
        step.pop("started_at", None)
        step.pop("finished_at", None)
    _echo(shown)


@requests_app.command("approve")
def approve(request_id: Annotated[str, typer.Argument()]) -> None:
    from pledge.requests import service

    store = open_store()
    with store_errors(), store.transaction() as session:
        req = service.approve(session, request_id, actor=cli_actor())
        typer.echo(f"{req.reference}: {req.state}")


@requests_app.command("retry")
def retry(request_id: Annotated[str, typer.Argument()]) -> None:
    from pledge.requests import service

    store = open_store()
    with store_errors(), store.transaction() as session:
        req = service.retry(session, request_id, actor=cli_actor())
        typer.echo(f"{req.reference}: {req.state}")


@requests_app.command("deny")
def deny(
    request_id: Annotated[str, typer.Argument()],
    reason: Annotated[list[str], typer.Option("--reason", help="Sent to the person; repeatable")],
) -> None:
    from pledge.requests import service

    store, manifest = _open()
    with store_errors(), store.transaction() as session:
        req = service.deny(session, manifest, request_id, reason, actor=cli_actor())
        typer.echo(f"{req.reference}: {req.state}")


@requests_app.command("extend")
def extend(
    request_id: Annotated[str, typer.Argument()],
    reason: Annotated[list[str], typer.Option("--reason", help="Sent to the person; repeatable")],
) -> None:
    from pledge.requests import service

    store, manifest = _open()
    with store_errors(), store.transaction() as session:
        req = service.extend(session, manifest, request_id, reason, actor=cli_actor())
        typer.echo(f"{req.reference}: due {service.current_due(req):%Y-%m-%d}")


@requests_app.command("remind")
def remind() -> None:
    """Queue SLA reminders to the privacy team now (workers also do it every hour).

    Each request gets one reminder when it becomes due soon and one when it becomes overdue;
    running this again queues nothing new. A worker sends the mail.
    """
    from pledge.requests import reminders

    store, manifest = _open()
    with store_errors(), store.transaction() as session:
        queued = reminders.remind(session, manifest, actor=cli_actor())
    for r in queued:
        typer.echo(f"{r.reference}  {r.sla:<8}  due {r.due:%Y-%m-%d}")
    typer.echo(f"{len(queued)} reminder(s) queued", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(requests_app)
