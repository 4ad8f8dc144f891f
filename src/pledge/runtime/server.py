"""Serving an installation: the API, the notices and an embedded worker, in one process or several.

`run` records the server in `<data_dir>/run/serve-<port>.pid`, notes the manifest in force in
the audit log, reloads the manifest on SIGHUP (keeping the old one when the new one has
errors, and telling `pledge reload` how it went), and stops after the requests and the job
in hand on SIGTERM or Ctrl-C. With `workers > 1` it supervises that many API processes on
the same port instead (`pledge.runtime.supervisor`).
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
from typing import TYPE_CHECKING, Any

from pledge.config import Settings, address_url
from pledge.errors import ConfigError
from pledge.runtime.installation import Installation
from pledge.runtime.runfiles import claimed, server_on, status_file, write_json

if TYPE_CHECKING:  # the web stack is imported when a server starts, not for every command
    import uvicorn
    from starlette.types import ASGIApp

    from pledge.manifest_holder import ManifestHolder, ReloadOutcome

log = logging.getLogger("pledge.serve")
MAX_SHOWN = 10
GRACEFUL_SECONDS = 20


class ServeError(ConfigError):
    """The server cannot start or keep running; `code` is the exit status for the CLI."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ServeOptions:
    """How `pledge serve` (or `pledge demo`) runs an installation."""

    host: str = "127.0.0.1"
    port: int = 8000
    start_worker: bool = True
    access_log: bool = False
    on_ready: Callable[[], None] | None = None
    workers: int = 1
    log_level: str = "info"

    @property
    def url(self) -> str:
        """The address the server listens on (links use `settings.public_url`)."""
        return address_url(self.host, self.port)


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def refuse_if_running(settings: Settings, port: int) -> None:
    """ServeError (exit 2) when a live Pledge server of this data folder already has `port`."""
    other = server_on(settings, port)
    if other is not None:
        raise ServeError(
            f"a Pledge server (pid {other.pid}) already runs at {other.url} with the data "
            f"folder {settings.data_dir}; stop it first, or choose another --port",
            2,
        )


def serving_holder(installation: Installation) -> ManifestHolder:
    """The holder of a served installation (serving without a manifest is refused earlier)."""
    if installation.holder is None:
        raise ServeError("a server needs a manifest: give --manifest or set PLEDGE_MANIFEST", 2)
    return installation.holder


def reload_status(outcome: ReloadOutcome, at: float) -> dict[str, Any]:
    errors = [f.format() for f in outcome.findings if f.severity == "error"]
    return {"ok": outcome.ok, "digest": outcome.digest, "at": at, "errors": errors}


def write_reload_status(settings: Settings, port: int, status: dict[str, Any]) -> None:
    """Tell `pledge reload` how it went (it waits for this file to change)."""
    path = status_file(settings, port)
    try:
        write_json(path, status)
    except OSError as exc:
        log.warning("could not write %s: %s", path, exc)


def reload_and_record(installation: Installation, actor: str) -> ReloadOutcome:
    """Reload the manifest, record the outcome in the audit log, and log it."""
    from pledge.api.service import reload_manifest

    outcome = reload_manifest(installation.store, serving_holder(installation), actor)
    if outcome.ok:
        log.info("SIGHUP: manifest %s in force", outcome.digest[:12])
    else:
        errors = [f for f in outcome.findings if f.severity == "error"]
        log.error(
            "SIGHUP: reload refused, %d error(s); manifest %s stays in force",
            len(errors),
            outcome.digest[:12],
        )
        for finding in errors[:MAX_SHOWN]:
            log.error("  %s", finding.format())
    return outcome


def _install_reload_handler(installation: Installation, port: int) -> None:
    """SIGHUP reloads the manifest in a thread (a signal handler must not block the loop)."""
    lock = threading.Lock()

    def work() -> None:
        with lock:
            outcome = reload_and_record(installation, "signal:SIGHUP")
            write_reload_status(installation.settings, port, reload_status(outcome, time.time()))

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


def run(installation: Installation, options: ServeOptions) -> None:
    """Serve until SIGTERM/SIGINT; the pid file and the worker are cleaned up on the way out.

    ServeError when it cannot start (port taken, another server of this data folder).
    """
    from pledge.api.app import build_app
    from pledge.api.service import record_manifest_in_force

    refuse_if_running(installation.settings, options.port)
    holder = serving_holder(installation)
    if options.workers > 1:
        from pledge.runtime.supervisor import run_workers

        run_workers(installation, options)
        return
    app = build_app(
        installation,
        start_worker=options.start_worker,
        access_log=options.access_log,
        preflight=True,
    )
    server = uvicorn_server(app, options.host, options.port)
    with claimed(installation.settings, options.port, options.url):
        record_manifest_in_force(installation.store, holder.manifest.digest, "serve")
        _install_reload_handler(installation, options.port)
        catch_stop_signals()
        if options.on_ready is not None:
            _when_started(server, options.on_ready)
        settle()
        try:
            server.run()
        finally:
            installation.close()
    if not server.started:
        raise ServeError(f"could not start on {options.url} (is the port in use?)")
    log.info("stopped")


def _when_started(server: uvicorn.Server, callback: Callable[[], None]) -> None:
    def wait() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        callback()

    threading.Thread(target=wait, name="pledge-ready", daemon=True).start()
