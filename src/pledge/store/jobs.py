"""A durable job queue in Pledge's own database (DESIGN §2 rule 5).

`enqueue` runs inside the caller's transaction, so a job exists if and only if the change that
asked for it was committed. Workers claim a job with a lease and a fresh `lease_token`
(PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one `UPDATE … WHERE id = (SELECT …)` under its
single writer), run the handler in a transaction and mark the job done *in that same
transaction*, fenced by the token. A worker that crashes leaves its transaction uncommitted —
nothing of its work survives — and its lease expires, so another worker takes the job over and
does it once. A worker that merely stalled past its lease finds its token replaced and its
transaction rolled back. Handlers of long work call `ctx.checkpoint(state)` to commit finished
steps together with their progress, and resume from `ctx.progress`.

Payloads should name subjects by id. When a job must carry personal data (a mail's recipient
and body), the caller seals that part with `seal` — with the subject's vault key, so shredding
the subject makes every copy unreadable wherever the bytes linger (SQLite's WAL, PostgreSQL's
dead rows, backups), or, with no live subject, with the installation's job key — and the
handler opens it with `unseal` when it runs. A handler registered with `keep=` also has its
payload cut down to those keys when its job is done, in the same fenced update, so a done job
carries nothing personal at all (a second line of defence). Kinds registered with
`periodic()` are enqueued by workers once per time window, keyed by the window, so any number
of workers makes one job per window. A handler registered with `on_failure=` is told, in the
transaction that marks its job failed for good, so the work the job stood for (a request) never
stays "running".
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pledge.store.db import Store, store_of
from pledge.store.errors import LeaseLostError, StoreError, VaultError
from pledge.store.tables import JOB_STATES, Job, table, utcnow

if TYPE_CHECKING:
    from pledge.manifest.model import Manifest

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_LEASE_SECONDS = 300.0
MAX_ERROR_CHARS = 2000
_EMAIL = re.compile(r"[^@\s\"'<>()]+@[^@\s\"'<>()]+", re.IGNORECASE)
#: The installation key sealing payloads that have no live subject (derived from the vault).
_JOB_KEY_LABEL = "job-payload"
_JOB_KEY_AAD = b"pledge/job-payload/v1\x00"
_SEALED_VERSION = b"\x01"
_NONCE = 12
_PHONE = re.compile(r"\+?\d[\d ()./-]{6,}\d")


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (bad payload): the job fails at once."""


class NoManifestError(PermanentJobError):
    """The worker was given no manifest, so a job that needs one cannot start."""


NO_MANIFEST = (
    "no manifest is in force in the worker that took this job; start it with --manifest "
    "(or PLEDGE_MANIFEST) and retry"
)

#: Told `(session, payload, reason)` when a job fails for good, in the same transaction.
FailureHook = Callable[[Session, Mapping[str, Any], str], None]


@dataclass(frozen=True)
class Resources:
    """What the installation lends every job beside the store (see `pledge.runtime`).

    `manifest` returns the manifest in force now (the installation's holder, so a reload
    reaches the next job); `environ` is where the connections' `url_env` are looked up.
    """

    manifest: Callable[[], Manifest] | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    run: Callable[[JobContext], Any]
    backoff_base: float = 2.0  # seconds before the first retry (then doubling)
    backoff_cap: float = 3600.0
    #: Payload keys a done job keeps (None: all); the rest is scrubbed on completion.
    keep: frozenset[str] | None = None
    on_failure: FailureHook | None = None

    def done_payload(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """The payload to store once done, or None to leave it as it is."""
        if self.keep is None:
            return None
        return {k: v for k, v in payload.items() if k in self.keep}


@dataclass(frozen=True)
class Periodic:
    """A job kind workers enqueue once per `every` (see `periodic`)."""

    kind: str
    every: timedelta

    def window(self, now: datetime) -> datetime:
        """The start of the window `now` falls in (aligned to the epoch, the same everywhere)."""
        seconds = self.every.total_seconds()
        start = (now.timestamp() // seconds) * seconds
        return datetime.fromtimestamp(start, UTC)

    def key(self, now: datetime) -> str:
        return f"periodic:{self.kind}:{self.window(now):%Y-%m-%dT%H:%M:%SZ}"


_HANDLERS: dict[str, HandlerSpec] = {}
_PERIODIC: dict[str, Periodic] = {}


def handler(
    kind: str,
    *,
    backoff_base: float = 2.0,
    backoff_cap: float = 3600.0,
    keep: Iterable[str] | None = None,
    on_failure: FailureHook | None = None,
) -> Callable[[Callable[[JobContext], Any]], Callable[[JobContext], Any]]:
    """Register the function that runs jobs of `kind` (`@handler("mail.send")`).

    `keep` names the payload keys a done job keeps; give it for kinds whose payload holds
    personal data, so nothing of it outlives the work. `on_failure` records a job's failure
    for good where its users look (a request's state), in the transaction that fails the job.
    """
    kept = frozenset(keep) if keep is not None else None

    def register(fn: Callable[[JobContext], Any]) -> Callable[[JobContext], Any]:
        _HANDLERS[kind] = HandlerSpec(kind, fn, backoff_base, backoff_cap, kept, on_failure)
        return fn

    return register


def periodic(kind: str, every: timedelta) -> None:
    """Have workers that handle `kind` enqueue one job of it per window of `every`."""
    if every < timedelta(minutes=1):
        raise ValueError("a periodic job runs at most once a minute")
    _PERIODIC[kind] = Periodic(kind, every)


def periodics() -> Mapping[str, Periodic]:
    return dict(_PERIODIC)


def handlers() -> Mapping[str, HandlerSpec]:
    return dict(_HANDLERS)


# -- enqueueing ---------------------------------------------------------------------------


def enqueue(
    session: Session,
    kind: str,
    payload: Mapping[str, Any],
    *,
    idempotency_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """Add a job inside the caller's transaction; returns its id.

    With an `idempotency_key`, enqueueing again returns the existing job instead of a second
    one, also when two transactions race (the unique key decides, in a savepoint).
    Payloads are JSON; they should name subjects by id, and hold personal data only
    sealed (`seal`).
    """
    if not kind or len(kind) > 100:
        raise ValueError("a job kind has 1 to 100 characters")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise ValueError("an idempotency key has 1 to 200 characters")
    now = utcnow()
    job = Job(
        kind=kind,
        payload=dict(payload),
        state="queued",
        idempotency_key=idempotency_key,
        attempts=0,
        max_attempts=max_attempts,
        run_at=run_at or now,
        created_at=now,
        updated_at=now,
    )
    if idempotency_key is None:
        session.add(job)
        session.flush()
        return job.id
    existing = find_by_key(session, idempotency_key)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        found = find_by_key(session, idempotency_key)
        if found is None:
            raise
        return found
    return job.id


def seal(
    session: Session, private: Mapping[str, Any], *, subject_id: str | None, aad: bytes
) -> str:
    """The personal part of a payload as sealed text, for `enqueue`; `unseal` opens it.

    With `subject_id`, sealed with that subject's vault key: crypto-shredding then covers
    every copy of the payload. Without one (a recipient who is not a subject, or whose key is
    about to be shredded, like an erasure's confirmation), sealed with the installation's job
    key, so the database alone never shows it in clear. `aad` binds it to its job (a message
    id), so a sealed part cannot be moved to another job.
    """
    data = json.dumps(private, separators=(",", ":"), sort_keys=True).encode("utf-8")
    vault = store_of(session).vault
    if subject_id is not None:
        blob = vault.encrypt_for(session, subject_id, data, aad)
    else:
        nonce = secrets.token_bytes(_NONCE)
        key = AESGCM(vault.derive_key(_JOB_KEY_LABEL))
        blob = _SEALED_VERSION + nonce + key.encrypt(nonce, data, _JOB_KEY_AAD + aad)
    return base64.b64encode(blob).decode("ascii")


def unseal(session: Session, sealed: str, *, subject_id: str | None, aad: bytes) -> dict[str, Any]:
    """Open what `seal` made: ShreddedError once the subject was shredded, VaultError if
    the text was altered or belongs to another job."""
    blob = base64.b64decode(sealed)
    vault = store_of(session).vault
    if subject_id is not None:
        data = vault.decrypt_for(session, subject_id, blob, aad)
    elif blob[:1] != _SEALED_VERSION:
        raise VaultError("not a payload sealed by Pledge (unknown format version)")
    else:
        key = AESGCM(vault.derive_key(_JOB_KEY_LABEL))
        nonce, body = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
        try:
            data = key.decrypt(nonce, body, _JOB_KEY_AAD + aad)
        except InvalidTag as exc:
            raise VaultError("a sealed job payload does not decrypt: it was altered") from exc
    opened = json.loads(data)
    if not isinstance(opened, dict):
        raise VaultError("a sealed job payload does not hold an object")
    return opened


def find_by_key(session: Session, idempotency_key: str) -> int | None:
    """The id of the job enqueued with `idempotency_key`, if any (whatever its state)."""
    query = select(Job.id).where(Job.idempotency_key == idempotency_key)
    return session.execute(query).scalar_one_or_none()


def enqueue_periodic(session: Session, spec: Periodic, now: datetime) -> int:
    """The job of `spec` for the window of `now`, enqueued if no worker did it yet."""
    payload = {"window": spec.window(now).isoformat()}
    return enqueue(session, spec.kind, payload, idempotency_key=spec.key(now), run_at=now)


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id, populate_existing=True)


def count_by_state(session: Session) -> dict[str, int]:
    """Jobs per state, every state present (for /metrics and health)."""
    counts = dict.fromkeys(JOB_STATES, 0)
    for state, count in session.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[str(state)] = int(count)
    return counts


def failed_since(session: Session, since: datetime) -> int:
    """Jobs that failed for good since `since` (for health: is the worker getting work done?)."""
    query = select(func.count()).select_from(Job)
    query = query.where(Job.state == "failed", Job.finished_at >= since)
    return int(session.execute(query).scalar_one())


# -- running ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A job this worker holds the lease on."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    progress: dict[str, Any] | None
    token: str


@dataclass
class JobContext:
    """What a handler gets: its job, the store, the transaction the job completes in, and
    what the installation lends it (`ctx.manifest`, `ctx.environ`)."""

    store: Store
    session: Session
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    progress: dict[str, Any] | None
    _token: str = field(repr=False)
    _lease: timedelta = field(repr=False)
    resources: Resources = field(default_factory=Resources, repr=False)

    @property
    def manifest(self) -> Manifest:
        """The manifest in force (NoManifestError, failing the job at once, when none is)."""
        if self.resources.manifest is None:
            raise NoManifestError(NO_MANIFEST)
        return self.resources.manifest()

    @property
    def environ(self) -> Mapping[str, str]:
        """Where the manifest's connections find their URLs (`url_env`)."""
        return self.resources.environ

    def checkpoint(self, state: Mapping[str, Any]) -> None:
        """Commit the work done so far together with `state`, and extend the lease.

        After a crash the job is retried with `ctx.progress == state`, so steps before the
        checkpoint are not redone. Raises LeaseLostError (and rolls back) if another worker
        took the job over meanwhile.
        """
        now = utcnow()
        _fenced_update(
            self.session,
            self.job_id,
            self._token,
            progress=dict(state),
            lease_expires_at=now + self._lease,
            updated_at=now,
        )
        self.session.commit()
        self.progress = dict(state)


def _fenced_update(session: Session, job_id: int, token: str, **values: Any) -> None:
    t = table(Job)
    result = session.execute(
        update(t)
        .where(t.c.id == job_id, t.c.lease_token == token, t.c.state == "running")
        .values(**values)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.rollback()
        raise LeaseLostError(f"job {job_id}: the lease was taken over by another worker")


def backoff_delay(spec: HandlerSpec, attempt: int, rng: Callable[[], float]) -> float:
    """Exponential backoff with jitter: half the delay fixed, half random."""
    delay = min(spec.backoff_cap, spec.backoff_base * 2.0 ** max(attempt - 1, 0))
    return delay / 2 + rng() * delay / 2


def safe_error(exc: BaseException) -> str:
    """The error text kept on a job: type and message, addresses and phone numbers masked."""
    text = f"{type(exc).__name__}: {exc}"
    text = _PHONE.sub("<number>", _EMAIL.sub("<email>", text))
    return text[:MAX_ERROR_CHARS]


class Worker:
    """Claims and runs jobs of the kinds it has handlers for."""

    def __init__(
        self,
        store: Store,
        *,
        kinds: Iterable[str] | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
        periodic: bool = False,
        resources: Resources | None = None,
    ) -> None:
        self.store = store
        self.resources = resources or Resources()
        self.kinds = sorted(kinds if kinds is not None else _HANDLERS)
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_interval = poll_interval
        self.clock = clock
        self.rng = rng
        self.periodic = periodic
        self._windows: dict[str, datetime] = {}
        self._heartbeat = _Heartbeat(self)

    def schedule(self) -> list[int]:
        """Enqueue the periodic jobs of this worker's kinds for the current window.

        Each worker asks the database once per window; the window's idempotency key makes
        the job once however many workers ask.
        """
        now = self.clock()
        due = [
            p
            for p in _PERIODIC.values()
            if p.kind in self.kinds and self._windows.get(p.kind) != p.window(now)
        ]
        if not due:
            return []
        with self.store.transaction() as session:
            ids = [enqueue_periodic(session, p, now) for p in due]
        self._windows.update((p.kind, p.window(now)) for p in due)
        return ids

    def claim(self) -> Claim | None:
        """Take the next ready job (queued and due, or running with an expired lease)."""
        now, token = self.clock(), str(uuid.uuid4())
        t = table(Job)
        ready = or_(
            and_(t.c.state == "queued", t.c.run_at <= now),
            and_(t.c.state == "running", t.c.lease_expires_at < now),
        )
        pick = select(t.c.id).where(ready, t.c.kind.in_(self.kinds))
        pick = pick.order_by(t.c.run_at, t.c.id).limit(1)
        if self.store.is_postgres:
            pick = pick.with_for_update(skip_locked=True)
        claim = (
            update(t)
            .where(t.c.id == pick.scalar_subquery())
            .values(
                state="running",
                attempts=t.c.attempts + 1,
                lease_token=token,
                lease_expires_at=now + self.lease,
                updated_at=now,
            )
            .returning(t.c.id, t.c.kind, t.c.payload, t.c.attempts, t.c.max_attempts, t.c.progress)
        )
        with self.store.transaction() as session:
            row = session.execute(claim).first()
        if row is None:
            return None
        return Claim(row[0], row[1], row[2], row[3], row[4], row[5], token)

    def run_one(self) -> bool:
        """Claim and run one job; False when none was ready."""
        job = self.claim()
        if job is None:
            return False
        if job.attempt > job.max_attempts:
            self._give_up(job)
            return True
        self._execute(job)
        return True

    def run(self, stop: threading.Event, *, once: bool = False) -> int:
        """Run jobs until `stop` is set (or, with `once`, until none is ready); returns count."""
        done = errors = 0
        while not stop.is_set():
            try:
                if self.periodic:
                    self.schedule()
                worked = self.run_one()
                errors = 0
            except StoreError as exc:
                errors += 1
                log.warning("job queue unavailable (%s); retrying", exc)
                if once and errors >= 5:
                    raise
                stop.wait(min(self.poll_interval * errors, 30))
                continue
            if worked:
                done += 1
            elif once:
                break
            else:
                stop.wait(self.poll_interval)
        return done

    def _execute(self, job: Claim) -> None:
        spec = _HANDLERS[job.kind]
        self._heartbeat.watch(job)
        try:
            with self.store.transaction() as session:
                ctx = JobContext(
                    self.store,
                    session,
                    job.id,
                    job.kind,
                    job.payload,
                    job.attempt,
                    job.progress,
                    job.token,
                    self.lease,
                    self.resources,
                )
                spec.run(ctx)
                now = self.clock()
                scrubbed = spec.done_payload(job.payload)
                _fenced_update(
                    session,
                    job.id,
                    job.token,
                    state="done",
                    finished_at=now,
                    updated_at=now,
                    lease_token=None,
                    lease_expires_at=None,
                    last_error=None,
                    **({"payload": scrubbed} if scrubbed is not None else {}),
                )
            log.info("job %s (%s) done on attempt %s", job.id, job.kind, job.attempt)
        except LeaseLostError:
            log.warning("job %s (%s): lease lost; its work was rolled back", job.id, job.kind)
        except Exception as exc:  # the handler's failure is recorded, never raised
            self._retry_or_fail(job, spec, exc)
        finally:
            self._heartbeat.watch(None)

    def _retry_or_fail(self, job: Claim, spec: HandlerSpec, exc: Exception) -> None:
        error, now = safe_error(exc), self.clock()
        final = job.attempt >= job.max_attempts or isinstance(exc, PermanentJobError)
        if final:
            values: dict[str, Any] = {"state": "failed", "finished_at": now}
        else:
            delay = backoff_delay(spec, job.attempt, self.rng)
            values = {"state": "queued", "run_at": now + timedelta(seconds=delay)}
        values.update(lease_token=None, lease_expires_at=None, last_error=error, updated_at=now)
        try:
            with self.store.transaction() as session:
                _fenced_update(session, job.id, job.token, **values)
                if final and spec.on_failure is not None:
                    spec.on_failure(session, job.payload, error)
        except LeaseLostError:
            return
        log.warning(
            "job %s (%s) attempt %s failed%s: %s",
            job.id,
            job.kind,
            job.attempt,
            " for good" if final else "; will retry",
            error,
        )

    def _give_up(self, job: Claim) -> None:
        now = self.clock()
        error = (
            f"gave up after {job.max_attempts} attempts: the worker running the last one "
            "stopped without finishing (crash, kill, or lease expiry)"
        )
        with self.store.transaction() as session:
            _fenced_update(
                session,
                job.id,
                job.token,
                state="failed",
                finished_at=now,
                updated_at=now,
                lease_token=None,
                lease_expires_at=None,
                last_error=error,
            )
            spec = _HANDLERS.get(job.kind)
            if spec is not None and spec.on_failure is not None:
                spec.on_failure(session, job.payload, error)
        log.warning("job %s (%s): %s", job.id, job.kind, error)


class _Heartbeat:
    """Extends the lease of the job a worker is running, every third of the lease."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._job: Claim | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, job: Claim | None) -> None:
        with self._lock:
            self._job = job
            if job is not None and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(
                    target=self._beat, name="pledge-heartbeat", daemon=True
                )
                self._thread.start()

    def _beat(self) -> None:
        interval = self.worker.lease.total_seconds() / 3
        while True:
            time.sleep(interval)
            with self._lock:
                job = self._job
            if job is None:
                return
            self._extend(job)

    def _extend(self, job: Claim) -> None:
        now = self.worker.clock()
        try:
            with self.worker.store.transaction() as session:
                _fenced_update(
                    session,
                    job.id,
                    job.token,
                    lease_expires_at=now + self.worker.lease,
                    updated_at=now,
                )
        except (StoreError, LeaseLostError) as exc:
            log.debug("job %s: lease not extended (%s)", job.id, exc)


def run_workers(
    store: Store,
    stop: threading.Event,
    *,
    concurrency: int = 1,
    once: bool = False,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    poll_interval: float = 1.0,
    periodic: bool = True,
    resources: Resources | None = None,
) -> int:
    """Run `concurrency` workers in threads until `stop` (or the queue is drained, `once`).

    With `periodic` they also enqueue the periodic jobs of their kinds (see `periodic()`).
    """
    results: list[int] = []

    def loop() -> None:
        worker = Worker(
            store,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            periodic=periodic,
            resources=resources,
        )
        results.append(worker.run(stop, once=once))

    threads = [threading.Thread(target=loop, name=f"pledge-worker-{i}") for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(results)


class WorkerThread(threading.Thread):
    """One worker in a daemon thread, for `pledge serve`; `stop()` finishes the current job.

    It enqueues the periodic jobs too, unless given `periodic=False`.
    """

    def __init__(
        self, store: Store, *, poll_interval: float = 1.0, periodic: bool = True, **options: Any
    ) -> None:
        super().__init__(name="pledge-embedded-worker", daemon=True)
        self._stop_event = threading.Event()
        self.worker = Worker(store, poll_interval=poll_interval, periodic=periodic, **options)

    def run(self) -> None:
        self.worker.run(self._stop_event)

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop_event.set()
        self.join(timeout)
