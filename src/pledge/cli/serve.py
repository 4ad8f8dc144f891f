"""`pledge serve`: the API, the notices and an embedded worker, in one process or several.

On start it migrates the database, loads the manifest (refusing to start when `pledge check`
finds errors), records itself in `<data_dir>/run/serve-<port>.pid`, and reloads the manifest
on SIGHUP (or `pledge reload`), keeping the old one when the new one has errors. SIGTERM or
Ctrl-C stop it after the requests and the job in hand.

With `--workers N` the recorded process supervises N API processes on the same port instead
(`pledge.cli.supervisor`); each runs the service built here.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pledge.cli.db import open_store, store_errors
from pledge.cli.output import fail
from pledge.cli.runfiles import claimed, server_on, status_file, write_json
from pledge.config import Settings, get_settings
from pledge.errors import ManifestError

if TYPE_CHECKING:  # the web stack is imported when a server starts, not for every command
    import uvicorn
    from starlette.types import ASGIApp

    from pledge.manifest_holder import ManifestHolder, ReloadOutcome
    from pledge.store.db import Store

log = logging.getLogger("pledge.serve")
_MAX_SHOWN = 10
GRACEFUL_SECONDS = 20


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


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


@dataclass
class Service:
    """Everything `pledge serve` and `pledge demo` run: settings, store, manifest, options."""

    settings: Settings
    store: Store
    holder: ManifestHolder
    host: str = "127.0.0.1"
    port: int = 8000
    start_worker: bool = True
    access_log: bool = False
    on_ready: Callable[[], None] | None = None
    workers: int = 1
    log_level: str = "info"


def prepare_store() -> Store:
    """The configured store, migrated to this version (exit 2 with the reason if it cannot)."""
    from pledge.store.migrations import upgrade

    store = open_store()
    with store_errors():
        upgrade(store)
    return store


def refuse_if_running(settings: Settings, port: int) -> None:
    """Exit 2 when a live Pledge server of this data folder already has `port`."""
    other = server_on(settings, port)
    if other is not None:
        fail(
            f"a Pledge server (pid {other.pid}) already runs at {other.url} with the data "
            f"folder {settings.data_dir}; stop it first, or choose another --port",
            2,
        )


def reload_status(outcome: ReloadOutcome, at: float) -> dict[str, Any]:
    errors = [f.format() for f in outcome.findings if f.severity == "error"]
    return {"ok": outcome.ok, "digest": outcome.digest, "at": at, "errors": errors}


def write_reload_status(service: Service, status: dict[str, Any]) -> None:
    """Tell `pledge reload` how it went (it waits for this file to change)."""
    path = status_file(service.settings, service.port)
    try:
        write_json(path, status)
    except OSError as exc:
        log.warning("could not write %s: %s", path, exc)


def reload_and_record(service: Service, actor: str) -> ReloadOutcome:
    """Reload the manifest, record the outcome in the audit log, and log it."""
    from pledge.api.service import reload_manifest

    outcome = reload_manifest(service.store, service.holder, actor)
    if outcome.ok:
        log.info("SIGHUP: manifest %s in force", outcome.digest[:12])
    else:
        errors = [f for f in outcome.findings if f.severity == "error"]
        log.error(
            "SIGHUP: reload refused, %d error(s); manifest %s stays in force",
            len(errors),
            outcome.digest[:12],
        )
        for finding in errors[:_MAX_SHOWN]:
            log.error("  %s", finding.format())
    return outcome


def _install_reload_handler(service: Service) -> None:
    """SIGHUP reloads the manifest in a thread (a signal handler must not block the loop)."""
    lock = threading.Lock()

    def work() -> None:
        with lock:
            outcome = reload_and_record(service, "signal:SIGHUP")
            write_reload_status(service, reload_status(outcome, time.time()))

    def on_sighup(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=work, name="pledge-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, on_sighup)


def uvicorn_server(app: ASGIApp, host: str, port: int) -> uvicorn.Server:
    """The uvicorn server of one API process (uvloop and httptools when installed)."""
    import uvicorn

    from pledge.api.settings import ApiSettings

    proxies = ApiSettings().trusted_proxy_list
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,  # pledge.access logs route templates instead of raw paths
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
    return uvicorn.Server(config)


def settle() -> None:
    """Keep what start-up built (app, manifest, modules) out of garbage collections.

    A full collection walks every tracked object: about 150,000 after start-up, 80-150 ms
    on the development VM, a pause every request in flight would wait for. Frozen, they are
    never walked again.
    """
    gc.collect()
    gc.freeze()


def catch_stop_signals() -> None:
    """uvicorn re-raises SIGTERM/SIGINT after a graceful stop; here that ends in exit 0."""

    def on_stop(_signum: int, _frame: FrameType | None) -> None:
        pass

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)


def run(service: Service) -> None:
    """Serve until SIGTERM/SIGINT; the pid file and the worker are cleaned up on the way out."""
    from pledge.api.app import create_app
    from pledge.api.service import record_manifest_in_force

    refuse_if_running(service.settings, service.port)
    if service.workers > 1:
        from pledge.cli.supervisor import run_workers

        run_workers(service)
        return
    app = create_app(
        service.settings,
        service.store,
        service.holder,
        start_worker=service.start_worker,
        access_log=service.access_log,
    )
    server = uvicorn_server(app, service.host, service.port)
    url = service_url(service)
    with store_errors(), claimed(service.settings, service.port, url):
        record_manifest_in_force(service.store, service.holder.manifest.digest, "serve")
        _install_reload_handler(service)
        catch_stop_signals()
        if service.on_ready is not None:
            _when_started(server, service.on_ready)
        settle()
        try:
            server.run()
        finally:
            service.store.dispose()
    if not server.started:
        fail(f"could not start on {url} (is the port in use?)", 1)
    log.info("stopped")


def service_url(service: Service) -> str:
    return f"http://{_url_host(service.host)}:{service.port}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _when_started(server: uvicorn.Server, callback: Callable[[], None]) -> None:
    def wait() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        callback()

    threading.Thread(target=wait, name="pledge-ready", daemon=True).start()


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
    from pledge.manifest.load import default_path

    configure_logging(log_level)
    refuse_if_running(get_settings(), port)
    store = prepare_store()
    settings = store.settings
    path = manifest or (str(settings.manifest) if settings.manifest else default_path())
    holder = load_holder(path)
    log.info("manifest %s (%s) loaded", path, holder.manifest.digest[:12])
    run(
        Service(
            settings,
            store,
            holder,
            host=host,
            port=port,
            start_worker=not no_worker,
            access_log=access_log,
            workers=workers,
            log_level=log_level,
        )
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
