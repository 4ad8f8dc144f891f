"""`pledge serve`: the API, the notices and an embedded worker, in one process or several.

On start it migrates the database, loads the manifest (refusing to start when `pledge check`
finds errors), records itself in `<data_dir>/run/serve-<port>.pid`, and reloads the manifest
on SIGHUP (or `pledge reload`), keeping the old one when the new one has errors. SIGTERM or
Ctrl-C stop it after the requests and the job in hand.

With `--workers N` the recorded process supervises N API processes on the same port (one
listening socket each with SO_REUSEPORT on Linux, so the kernel spreads connections; one
shared socket elsewhere). It records manifest loads and reloads in the audit log once,
forwards SIGHUP to every worker and reports to `pledge reload` only when all have answered,
restarts a worker that dies, and stops them all on SIGTERM. Only the first worker runs the
embedded job worker. Caches of the workers follow each other through the audit log
(`pledge.api.changes`).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
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
#: A worker that keeps dying is not restarted for ever: more than this many in a minute stops all.
_MAX_RESTARTS = 5
_ANSWER_SECONDS = 30.0
_GRACEFUL_SECONDS = 20


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


def _reload_status(outcome: ReloadOutcome, at: float) -> dict[str, Any]:
    errors = [f.format() for f in outcome.findings if f.severity == "error"]
    return {"ok": outcome.ok, "digest": outcome.digest, "at": at, "errors": errors}


def _write_reload_status(service: Service, status: dict[str, Any]) -> None:
    """Tell `pledge reload` how it went (it waits for this file to change)."""
    path = status_file(service.settings, service.port)
    try:
        write_json(path, status)
    except OSError as exc:
        log.warning("could not write %s: %s", path, exc)


def _reload_and_record(service: Service, actor: str) -> ReloadOutcome:
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
            outcome = _reload_and_record(service, "signal:SIGHUP")
            _write_reload_status(service, _reload_status(outcome, time.time()))

    def on_sighup(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=work, name="pledge-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, on_sighup)


def _uvicorn_server(app: ASGIApp, host: str, port: int) -> uvicorn.Server:
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
        timeout_graceful_shutdown=_GRACEFUL_SECONDS,
    )
    return uvicorn.Server(config)


def _settle() -> None:
    """Keep what start-up built (app, manifest, modules) out of garbage collections.

    A full collection walks every tracked object: about 150,000 after start-up, 80-150 ms
    on the development VM, a pause every request in flight would wait for. Frozen, they are
    never walked again.
    """
    gc.collect()
    gc.freeze()


def _catch_stop_signals() -> None:
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
        _run_workers(service)
        return
    app = create_app(
        service.settings,
        service.store,
        service.holder,
        start_worker=service.start_worker,
        access_log=service.access_log,
    )
    server = _uvicorn_server(app, service.host, service.port)
    url = _url(service)
    with store_errors(), claimed(service.settings, service.port, url):
        record_manifest_in_force(service.store, service.holder.manifest.digest, "serve")
        _install_reload_handler(service)
        _catch_stop_signals()
        if service.on_ready is not None:
            _when_started(server, service.on_ready)
        _settle()
        try:
            server.run()
        finally:
            service.store.dispose()
    if not server.started:
        fail(f"could not start on {url} (is the port in use?)", 1)
    log.info("stopped")


def _url(service: Service) -> str:
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


# -- several API processes (`--workers N`) ------------------------------------------------


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to build its own service (it crosses a spawn: picklable)."""

    settings: Settings
    manifest: str
    host: str
    port: int
    access_log: bool
    log_level: str
    job_worker: bool


@dataclass(frozen=True)
class WorkerReload:
    """A worker's answer to SIGHUP, sent to the supervisor."""

    index: int
    ok: bool
    digest: str
    at: float


def listen_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one port, one per worker (OSError when it is taken).

    On Linux each has SO_REUSEPORT, so the kernel spreads new connections over the workers
    evenly; elsewhere all workers share one. A plain bind first makes sure no other process
    listens there already (SO_REUSEPORT would otherwise quietly share its port).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
    reuse_port = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
    sockets = []
    for _ in range(count if reuse_port else 1):
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(2048)
        sockets.append(sock)
    return sockets if reuse_port else sockets * count


def worker_main(spec: WorkerSpec, index: int, sock: socket.socket, answers: Any) -> None:
    """One API process of `--workers`: its own store, manifest holder, app and caches."""
    from pledge.api.app import create_app
    from pledge.manifest_holder import ManifestHolder
    from pledge.store.db import Store

    configure_logging(spec.log_level)
    store = Store(spec.settings)
    holder = ManifestHolder(spec.manifest)
    app = create_app(
        spec.settings, store, holder, start_worker=spec.job_worker, access_log=spec.access_log
    )
    server = _uvicorn_server(app, spec.host, spec.port)

    def reload() -> None:  # the supervisor has already recorded the reload in the audit log
        outcome = holder.reload()
        answers.put(WorkerReload(index, outcome.ok, outcome.digest, time.time()))

    def on_sighup(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=reload, name="pledge-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, on_sighup)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})  # blocked from the start
    _catch_stop_signals()
    _stop_when_orphaned(server)
    _settle()
    try:
        server.run(sockets=[sock])
    finally:
        store.dispose()


def _stop_when_orphaned(server: uvicorn.Server) -> None:
    """A worker whose supervisor died (kill -9) stops instead of serving on unsupervised."""
    parent = os.getppid()

    def watch() -> None:
        while not server.should_exit:
            if os.getppid() != parent:
                log.error("the supervising process is gone; stopping")
                server.should_exit = True
                return
            time.sleep(1)

    threading.Thread(target=watch, name="pledge-orphan-watch", daemon=True).start()


class Supervisor:
    """Runs `count` worker processes and keeps them running, reloaded and stopped together."""

    def __init__(self, service: Service, count: int, sockets: list[socket.socket]) -> None:
        self.service = service
        self.sockets = sockets
        self.context = multiprocessing.get_context("spawn")  # no inherited threads or locks
        self.answers: Any = self.context.Queue()
        self.processes: list[BaseProcess | None] = [None] * count
        self.restarts: deque[float] = deque()
        self.stopping = self.failed = self.reload_asked = False

    def spec(self, index: int) -> WorkerSpec:
        service = self.service
        return WorkerSpec(
            service.settings,
            service.holder.path,
            service.host,
            service.port,
            service.access_log,
            service.log_level,
            job_worker=service.start_worker and index == 0,
        )

    def start(self, index: int) -> None:
        process = self.context.Process(
            target=worker_main,
            args=(self.spec(index), index, self.sockets[index], self.answers),
            name=f"pledge-api-{index}",
        )
        # SIGHUP stays blocked in the new process until it can reload (the mask is inherited).
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        self.processes[index] = process
        log.info("worker %d started (pid %s)", index, process.pid)

    def run(self) -> bool:
        """Supervise until SIGTERM/SIGINT; False when workers kept dying."""
        signal.signal(signal.SIGHUP, self._on_hup)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        for index in range(len(self.processes)):
            self.start(index)
        while not self.stopping:
            if self.reload_asked:
                self.reload_asked = False
                self.reload()
            self.restart_dead()
            time.sleep(0.1)
        self.stop_all()
        return not self.failed

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self.reload_asked = True

    def _on_stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def live(self) -> list[tuple[int, BaseProcess]]:
        return [(i, p) for i, p in enumerate(self.processes) if p is not None and p.is_alive()]

    def restart_dead(self) -> None:
        now = time.monotonic()
        for index, process in enumerate(self.processes):
            if process is None or process.is_alive() or self.stopping:
                continue
            log.error("worker %d (pid %s) exited with %s", index, process.pid, process.exitcode)
            while self.restarts and now - self.restarts[0] > 60:
                self.restarts.popleft()
            if len(self.restarts) >= _MAX_RESTARTS:
                log.error("workers keep exiting; stopping")
                self.failed = self.stopping = True
                return
            self.restarts.append(now)
            self.start(index)

    def reload(self) -> None:
        """Reload (recorded once, here), then every worker; report when all have answered."""
        outcome = _reload_and_record(self.service, "signal:SIGHUP")
        sent = time.time()
        waiting = {}
        for index, process in self.live():
            assert process.pid is not None
            os.kill(process.pid, signal.SIGHUP)
            waiting[index] = process
        status = _reload_status(outcome, sent)
        for answer in self._answers(set(waiting), sent):
            if (answer.ok, answer.digest) != (outcome.ok, outcome.digest):  # the file changed
                status["ok"] = False
                status["errors"].append(f"worker {answer.index}: manifest {answer.digest[:12]}")
            waiting.pop(answer.index, None)
        for index in waiting:
            status["ok"] = False
            status["errors"].append(f"worker {index}: no answer to the reload")
        status["at"] = time.time()
        _write_reload_status(self.service, status)

    def _answers(self, expected: set[int], since: float) -> list[WorkerReload]:
        found: list[WorkerReload] = []
        deadline = time.monotonic() + _ANSWER_SECONDS
        while expected and time.monotonic() < deadline:
            try:
                answer = self.answers.get(timeout=0.2)
            except queue.Empty:
                expected &= {i for i, _ in self.live()}  # a worker that died will not answer
                continue
            if answer.at >= since and answer.index in expected:
                expected.discard(answer.index)
                found.append(answer)
        return found

    def stop_all(self) -> None:
        running = self.live()
        for _, process in running:
            assert process.pid is not None
            os.kill(process.pid, signal.SIGTERM)
        for _, process in running:
            process.join(_GRACEFUL_SECONDS + 5)
            if process.is_alive():
                log.error("worker pid %s did not stop; killing it", process.pid)
                process.kill()
                process.join(5)


def _run_workers(service: Service) -> None:
    """`run` with `service.workers` API processes under one supervising process."""
    from pledge.api.service import record_manifest_in_force

    url = _url(service)
    try:
        sockets = listen_sockets(service.host, service.port, service.workers)
    except OSError as exc:
        fail(f"could not start on {url} ({exc.strerror or exc}; is the port in use?)", 1)
    supervisor = Supervisor(service, service.workers, sockets)
    with store_errors(), claimed(service.settings, service.port, url):
        record_manifest_in_force(service.store, service.holder.manifest.digest, "serve")
        log.info("%d workers at %s", service.workers, url)
        try:
            ok = supervisor.run()
        finally:
            for sock in set(sockets):
                sock.close()
            service.store.dispose()
    if not ok:
        fail("stopped: the API workers kept exiting (see the log above)", 1)
    log.info("stopped")


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
