"""`pledge worker`: run job workers against the configured database until told to stop.

The workers run in the installation (`pledge.runtime`) built from the settings: the manifest
they execute requests with is `--manifest`, else PLEDGE_MANIFEST, else ./pledge.yaml when it
exists. Without one, mail and other jobs still run, and a request's job fails at once with
the reason (the request shows it) instead of waiting for ever. SIGHUP reloads the manifest.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from pledge.cli.output import fail

if TYPE_CHECKING:
    from pledge.config import Settings
    from pledge.manifest_holder import ManifestHolder

#: Seconds a claim lasts unrenewed (`pledge.store.jobs.DEFAULT_LEASE_SECONDS`, kept in step).
DEFAULT_LEASE_SECONDS = 300.0
log = logging.getLogger("pledge.worker")


def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, max=64)] = 1,
    once: Annotated[bool, typer.Option("--once", help="Exit when no job is ready")] = False,
    imports: Annotated[
        list[str] | None,
        typer.Option("--import", help="Also import this module's job handlers (repeatable)"),
    ] = None,
    lease_seconds: Annotated[
        float, typer.Option("--lease-seconds", min=1.0, help="How long a claim lasts unrenewed")
    ] = DEFAULT_LEASE_SECONDS,
    poll_interval: Annotated[float, typer.Option("--poll-interval", min=0.01)] = 1.0,
    periodic: Annotated[
        bool,
        typer.Option(
            "--periodic/--no-periodic",
            help="Also enqueue periodic jobs, e.g. the hourly SLA reminders (default: yes)",
        ),
    ] = True,
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest",
            "-m",
            help="Manifest requests run with; default $PLEDGE_MANIFEST or ./pledge.yaml",
        ),
    ] = None,
) -> None:
    """Run durable jobs; SIGTERM or Ctrl-C stops after the jobs in hand (twice: at once)."""
    from pledge.cli.db import store_errors
    from pledge.cli.serve import load_holder
    from pledge.config import get_settings
    from pledge.runtime.installation import open_installation
    from pledge.runtime.workers import load_handler_modules
    from pledge.store import jobs

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with store_errors():
        settings = get_settings()
    path = _manifest_path(settings, manifest)
    holder = load_holder(path) if path is not None else None
    with store_errors():
        installation = open_installation(settings, holder=holder)
    try:
        modules = load_handler_modules(imports or ())
    except ImportError as exc:
        fail(f"cannot import job handlers: {exc}", 2)
    kinds = sorted(jobs.handlers())
    every = [f"{p.kind} every {p.every}" for p in jobs.periodics().values() if periodic]
    log.info(
        "worker up: %d thread(s), kinds %s (from %s), periodic %s, manifest %s",
        concurrency,
        kinds or "none",
        modules,
        every or "none",
        path or "none (request jobs will fail: give --manifest)",
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    if holder is not None:
        _reload_on_hup(holder)
    with store_errors():
        done = jobs.run_workers(
            installation.store,
            stop,
            concurrency=concurrency,
            once=once,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            periodic=periodic,
            resources=installation.resources(),
        )
    installation.close()
    typer.echo(f"worker stopped after {done} job(s)", err=True)


def _manifest_path(settings: Settings, given: str | None) -> str | None:
    """The manifest to run with: given, configured, or ./pledge.yaml if there is one."""
    from pledge.manifest.load import DEFAULT_MANIFEST

    if given is not None:
        return given
    if settings.manifest is not None:
        return str(settings.manifest)
    return DEFAULT_MANIFEST if Path(DEFAULT_MANIFEST).is_file() else None


def _reload_on_hup(holder: ManifestHolder) -> None:
    """SIGHUP reloads the manifest (kept when the new one has errors), like `pledge serve`."""

    def reload() -> None:
        outcome = holder.reload()
        log.info("manifest %s: %s", "reloaded" if outcome.ok else "kept", outcome.digest[:12])

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=reload, name="pledge-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, on_hup)


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():  # second signal: stop now; leases expire and jobs are retried
            raise SystemExit(128 + signum)
        log.info("stopping after the jobs in hand")
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
