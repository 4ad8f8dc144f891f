"""`pledge worker`: run job workers against the configured database until told to stop."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from pledge.cli.db import open_store, store_errors
from pledge.cli.output import fail
from pledge.store import jobs
from pledge.store.migrations import require_current


def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, max=64)] = 1,
    once: Annotated[bool, typer.Option("--once", help="Exit when no job is ready")] = False,
    imports: Annotated[
        list[str] | None,
        typer.Option("--import", help="Also import this module's job handlers (repeatable)"),
    ] = None,
    lease_seconds: Annotated[
        float, typer.Option("--lease-seconds", min=1.0, help="How long a claim lasts unrenewed")
    ] = jobs.DEFAULT_LEASE_SECONDS,
    poll_interval: Annotated[float, typer.Option("--poll-interval", min=0.01)] = 1.0,
    periodic: Annotated[
        bool,
        typer.Option(
            "--periodic/--no-periodic",
            help="Also enqueue periodic jobs, e.g. the hourly SLA reminders (default: yes)",
        ),
    ] = True,
) -> None:
    """Run durable jobs; SIGTERM or Ctrl-C stops after the jobs in hand (twice: at once)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    store = open_store()
    with store_errors():
        require_current(store)
        store.vault  # noqa: B018  (key problems show now, not in the first job)
    try:
        modules = jobs.load_handler_modules(imports or ())
    except ImportError as exc:
        fail(f"cannot import job handlers: {exc}", 2)
    kinds = sorted(jobs.handlers())
    every = [f"{p.kind} every {p.every}" for p in jobs.periodics().values() if periodic]
    logging.getLogger("pledge.worker").info(
        "worker up: %d thread(s), kinds %s (from %s), periodic %s",
        concurrency,
        kinds or "none",
        modules,
        every or "none",
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    with store_errors():
        done = jobs.run_workers(
            store,
            stop,
            concurrency=concurrency,
            once=once,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            periodic=periodic,
        )
    store.dispose()
    typer.echo(f"worker stopped after {done} job(s)", err=True)


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():  # second signal: stop now; leases expire and jobs are retried
            raise SystemExit(128 + signum)
        logging.getLogger("pledge.worker").info("stopping after the jobs in hand")
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
