"""`pledge requests`: staff enter requests received by post or phone, and follow them.

`submit --verified` is the staff member attesting they verified the person themselves; the
audit event names the operating-system account that ran the command.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pledge.cli.db import cli_actor, open_store, store_errors
from pledge.cli.output import fail

if TYPE_CHECKING:
    from pledge.manifest.model import Manifest
    from pledge.store.db import Store

requests_app = typer.Typer(
    name="requests", help="Data subject requests: enter, list, act.", no_args_is_help=True
)


def _open() -> tuple[Store, Manifest]:
    from pledge.requests.handlers import manifest_of

    store = open_store()
    with store_errors():
        store.vault  # noqa: B018  (opened outside any transaction)
        return store, manifest_of(store)
    raise AssertionError("unreachable")  # pragma: no cover


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@requests_app.command("submit")
def submit(
    kind: Annotated[str, typer.Option("--kind", help="access, erasure, rectification, …")],
    email: Annotated[str, typer.Option("--email", help="The person's e-mail address")],
    verified: Annotated[bool, typer.Option("--verified", help="You verified them")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Run it here until it is done")] = False,
    country: Annotated[str | None, typer.Option("--country")] = None,
    jurisdiction: Annotated[str | None, typer.Option("--jurisdiction")] = None,
    language: Annotated[str | None, typer.Option("--language")] = None,
    details: Annotated[str | None, typer.Option("--details")] = None,
) -> None:
    """Enter a request received by post or phone."""
    from pledge.requests import service

    store, manifest = _open()
    intake = service.Intake(
        kind=kind,
        email=email,
        country=country,
        jurisdiction=jurisdiction,
        language=language,
        details=details,
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
        )
    typer.echo(f"{done.reference}  {done.id}  {done.state}  due {done.due_at:%Y-%m-%d}")
    if wait:
        _wait(store, done.id)


def _wait(store: Store, request_id: str, timeout: float = 600.0) -> None:
    from pledge.requests import service
    from pledge.store.jobs import Worker, load_handler_modules

    load_handler_modules()
    worker = Worker(store, poll_interval=0.05)
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
def show(request_id: Annotated[str, typer.Argument(help="Id or reference")]) -> None:
    """One request with every step (no identity, no corrections)."""
    from pledge.requests import service

    store = open_store()
    with store_errors(), store.reader() as session:
        req = service.get(session, request_id)
        steps = [
            {"name": s.name, "state": s.state, "detail": s.detail}
            for s in service.steps_of(session, req.id)
        ]
        _echo({**service.describe(req), "result": req.result, "steps": steps})


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
