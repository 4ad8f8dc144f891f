"""`pledge serve`: the API, the notices and an embedded worker, in one process or several.

On start it migrates the database, loads the manifest (refusing to start when `pledge check`
finds errors) and builds the installation (`pledge.runtime`) that the API and the worker
share; serving, reloading on SIGHUP and `--workers N` are `pledge.runtime.server`'s work.
Links in mail use PLEDGE_PUBLIC_URL, by default the address served on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from pledge.cli.output import fail
from pledge.errors import ManifestError, PledgeError

if TYPE_CHECKING:  # the service is imported when a server starts, not for every command
    from pledge.config import Settings
    from pledge.manifest_holder import ManifestHolder
    from pledge.runtime.installation import Installation
    from pledge.runtime.server import ServeOptions

log = logging.getLogger("pledge.serve")
_MAX_SHOWN = 10


def load_holder(path: str) -> ManifestHolder:
    """The manifest holder, or exit 2 listing the manifest's errors."""
    from pledge.manifest_holder import ManifestHolder

    try:
        return ManifestHolder(path)
    except ManifestError as exc:
        errors = [f for f in exc.findings if f.severity == "error"]
        shown = "\n".join(f"  {f.format()}" for f in errors[:_MAX_SHOWN])
        more = f"\n  … and {len(errors) - _MAX_SHOWN} more" if len(errors) > _MAX_SHOWN else ""
        fail(
            f"{path}: the manifest has {len(errors)} error(s); not starting.\n{shown}{more}\n"
            f"Fix them (`pledge check {path}` lists them all) and start again.",
            2,
        )


def check_port_free(settings: Settings, port: int) -> None:
    """Exit 2 when a live Pledge server of this data folder already has `port`."""
    from pledge.runtime.server import ServeError, refuse_if_running

    try:
        refuse_if_running(settings, port)
    except ServeError as exc:
        fail(str(exc), exc.code)


def run_or_exit(installation: Installation, options: ServeOptions) -> None:
    """Serve the installation; a failure to start or to keep running exits with its reason."""
    from pledge.runtime.server import ServeError, run

    try:
        run(installation, options)
    except ServeError as exc:
        fail(str(exc), exc.code)
    except PledgeError as exc:
        fail(str(exc), 2)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest", "-m", help="Manifest; default $PLEDGE_MANIFEST or ./pledge.yaml"
        ),
    ] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Run no embedded job worker")
    ] = False,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log each request (method, route, status)")
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="API processes sharing the port (the first runs the embedded job worker)",
        ),
    ] = 1,
) -> None:
    """Run the service: API under /v1, notices under /notices, an embedded worker."""
    from pledge.cli.db import store_errors
    from pledge.config import get_settings
    from pledge.manifest.load import default_path
    from pledge.runtime.installation import open_installation
    from pledge.runtime.server import ServeOptions, configure_logging

    configure_logging(log_level)
    with store_errors():
        settings = get_settings().serving_at(host, port)
    check_port_free(settings, port)
    path = manifest or (str(settings.manifest) if settings.manifest else default_path())
    holder = load_holder(path)
    with store_errors():
        installation = open_installation(settings, holder=holder, migrate=True)
    log.info("manifest %s (%s) loaded", path, holder.manifest.digest[:12])
    options = ServeOptions(
        host=host,
        port=port,
        start_worker=not no_worker,
        access_log=access_log,
        workers=workers,
        log_level=log_level,
    )
    run_or_exit(installation, options)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
