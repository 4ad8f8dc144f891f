"""`pledge serve --workers N`: one supervising process and N API processes on one port.

The supervisor holds one listening socket per worker (SO_REUSEPORT on Linux, so the kernel
spreads connections; one shared socket elsewhere). It records manifest loads and reloads in the
audit log once, forwards SIGHUP to every worker and reports to `pledge reload` only when all
have answered, restarts a worker that dies (within limits), and stops them all on SIGTERM.
Only the first worker runs the embedded job worker. Each worker builds its own installation
from the same settings, manifest file and connections; the single-process service, which
each runs, is in `pledge.runtime.server`.
"""

from __future__ import annotations

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
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from pledge.config import Settings
from pledge.runtime.installation import Installation
from pledge.runtime.runfiles import claimed, run_dir
from pledge.runtime.server import (
    GRACEFUL_SECONDS,
    ServeError,
    ServeOptions,
    catch_stop_signals,
    configure_logging,
    reload_and_record,
    reload_status,
    serving_holder,
    settle,
    uvicorn_server,
    write_reload_status,
)

if TYPE_CHECKING:
    import uvicorn


log = logging.getLogger("pledge.serve")
#: A worker that keeps dying is not restarted for ever: more than this many in a minute stops all.
_MAX_RESTARTS = 5
_ANSWER_SECONDS = 30.0


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to build its own service (it crosses a spawn: picklable)."""

    settings: Settings
    manifest: str
    #: Where the manifest's connections find their URLs (the parent installation's).
    connections: Mapping[str, str]
    host: str
    port: int
    access_log: bool
    log_level: str
    job_worker: bool
    #: The file of the public routes' rate-limit buckets, shared by every worker.
    buckets: Path


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
    """One API process of `--workers`: its own installation, app and caches."""
    from pledge.api.app import build_app
    from pledge.api.ratelimit import SharedRateLimiter
    from pledge.api.settings import ApiSettings
    from pledge.runtime.installation import open_installation

    configure_logging(spec.log_level)
    installation = open_installation(
        spec.settings, manifest=spec.manifest, connections=spec.connections
    )
    holder = serving_holder(installation)
    api = ApiSettings()
    app = build_app(
        installation,
        start_worker=spec.job_worker,
        access_log=spec.access_log,
        api_settings=api,
        limiter=SharedRateLimiter(api.public_rate, api.public_burst, spec.buckets),
        preflight=True,
    )
    server = uvicorn_server(app, spec.host, spec.port)

    def reload() -> None:  # the supervisor has already recorded the reload in the audit log
        outcome = holder.reload()
        answers.put(WorkerReload(index, outcome.ok, outcome.digest, time.time()))

    def on_sighup(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=reload, name="pledge-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, on_sighup)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})  # blocked from the start
    catch_stop_signals()
    _stop_when_orphaned(server)
    settle()
    try:
        server.run(sockets=[sock])
    finally:
        installation.close()


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

    def __init__(
        self,
        installation: Installation,
        options: ServeOptions,
        sockets: list[socket.socket],
        buckets: Path,
    ) -> None:
        self.installation = installation
        self.options = options
        self.sockets = sockets
        self.buckets = buckets
        self.context = multiprocessing.get_context("spawn")  # no inherited threads or locks
        self.answers: Any = self.context.Queue()
        self.processes: list[BaseProcess | None] = [None] * options.workers
        self.restarts: deque[float] = deque()
        self.stopping = self.failed = self.reload_asked = False

    def spec(self, index: int) -> WorkerSpec:
        options, installation = self.options, self.installation
        return WorkerSpec(
            installation.settings,
            serving_holder(installation).path,
            dict(installation.connections),
            options.host,
            options.port,
            options.access_log,
            options.log_level,
            job_worker=options.start_worker and index == 0,
            buckets=self.buckets,
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
        outcome = reload_and_record(self.installation, "signal:SIGHUP")
        sent = time.time()
        waiting = {}
        for index, process in self.live():
            assert process.pid is not None
            os.kill(process.pid, signal.SIGHUP)
            waiting[index] = process
        status = reload_status(outcome, sent)
        for answer in self._answers(set(waiting), sent):
            if (answer.ok, answer.digest) != (outcome.ok, outcome.digest):  # the file changed
                status["ok"] = False
                status["errors"].append(f"worker {answer.index}: manifest {answer.digest[:12]}")
            waiting.pop(answer.index, None)
        for index in waiting:
            status["ok"] = False
            status["errors"].append(f"worker {index}: no answer to the reload")
        status["at"] = time.time()
        write_reload_status(self.installation.settings, self.options.port, status)

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
            process.join(GRACEFUL_SECONDS + 5)
            if process.is_alive():
                log.error("worker pid %s did not stop; killing it", process.pid)
                process.kill()
                process.join(5)


def run_workers(installation: Installation, options: ServeOptions) -> None:
    """`run` with `options.workers` API processes under one supervising process."""
    from pledge.api.ratelimit import create_bucket_file
    from pledge.api.service import record_manifest_in_force

    url = options.url
    try:
        sockets = listen_sockets(options.host, options.port, options.workers)
    except OSError as exc:
        raise ServeError(
            f"could not start on {url} ({exc.strerror or exc}; is the port in use?)"
        ) from exc
    settings = installation.settings
    buckets = run_dir(settings) / f"serve-{options.port}.buckets"
    supervisor = Supervisor(installation, options, sockets, buckets)
    with claimed(settings, options.port, url):
        create_bucket_file(buckets)
        digest = serving_holder(installation).manifest.digest
        record_manifest_in_force(installation.store, digest, "serve")
        log.info("%d workers at %s", options.workers, url)
        try:
            ok = supervisor.run()
        finally:
            for sock in set(sockets):
                sock.close()
            buckets.unlink(missing_ok=True)
            installation.close()
    if not ok:
        raise ServeError("stopped: the API workers kept exiting (see the log above)")
    log.info("stopped")
