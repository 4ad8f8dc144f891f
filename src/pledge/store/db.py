"""Engines, sessions and transactions for SQLite (the default) and PostgreSQL (production).

SQLite runs in WAL mode with foreign keys on, `synchronous=FULL` (a committed audit event
survives a power cut) and `secure_delete` (a shredded key is overwritten on disk, not just
unlinked from the b-tree). Write transactions start with `BEGIN IMMEDIATE`, so two writers
queue on the busy timeout instead of failing half-way with "database is locked" when one
upgrades its read lock. PostgreSQL is reached through psycopg 3 at READ COMMITTED; code that
needs more takes explicit locks (audit chain head, job claims).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pledge.config import Settings, ensure_private_dir, ensure_private_file, get_settings
from pledge.errors import ConfigError
from pledge.store.errors import StoreError

if TYPE_CHECKING:
    from pledge.store.signing import Signer
    from pledge.store.vault import Vault

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "pledge_read_only"
_COMPACT = "pledge_compact_after_commit"


def normalise_url(raw: str) -> URL:
    """Parse a database URL; plain `postgresql://` and `postgres://` mean psycopg 3."""
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw.removeprefix("postgres://")
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(
            f"PLEDGE_DATABASE_URL is not a database URL ({exc}); "
            "use sqlite:///path/to/pledge.db or postgresql+psycopg://user@host/db"
        ) from exc
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"PLEDGE_DATABASE_URL uses {url.get_backend_name()!r}; Pledge stores its own data "
            "in SQLite or PostgreSQL only"
        )
    return url


def create_engine_for(url: URL | str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """An engine configured for Pledge's transaction rules on either backend."""
    url = normalise_url(url) if isinstance(url, str) else url
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout_ms)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_recycle=1800,
        connect_args={"connect_timeout": 10, "application_name": "pledge"},
    )


def _sqlite_engine(url: URL, busy_timeout_ms: int) -> Engine:
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )
    memory = url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module, so BEGIN is ours.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def describe_db_error(exc: BaseException, url: URL) -> str:
    """Turn a driver error into a sentence that names the database and says what to do."""
    where = url.render_as_string(hide_password=True)
    text = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    low = first.lower()
    if "database is locked" in low or "database table is locked" in low:
        return (
            f"the database {where} is locked by another process (gave up waiting); nothing was "
            "written — try again, or stop the other writer (SQLite allows one writer at a "
            "time; use PostgreSQL for many)"
        )
    if "unable to open database file" in low:
        return (
            f"cannot open the database {where}: its folder is missing or not writable; "
            "set PLEDGE_DATA_DIR or PLEDGE_DATABASE_URL to a writable place"
        )
    if "no such table" in low or ("relation" in low and "does not exist" in low):
        return f"the database {where} has no Pledge tables yet ({first}); run `pledge db upgrade`"
    if "disk is full" in low or "no space left" in low:
        return f"the disk holding {where} is full; nothing was written — free space and retry"
    if "readonly database" in low or "read-only" in low:
        return f"the database {where} is read-only; Pledge needs to write to it"
    if url.get_backend_name() == "postgresql" and _is_connect_failure(low):
        return (
            f"cannot connect to PostgreSQL at {where}: {first}; "
            "is it running, and is PLEDGE_DATABASE_URL right?"
        )
    return f"database error on {where}: {first}"


def _is_connect_failure(low: str) -> bool:
    needles = ("connection", "could not", "timeout", "does not exist", "authentication")
    return any(n in low for n in needles)


class Store:
    """The database of one Pledge installation: engine, sessions and the keys that go with it.

    Sessions carry the store in `session.info["pledge_store"]`, so functions that take only a
    session (audit `append`, vault lookups) still find the settings and keys they need.
    """

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.url = normalise_url(settings.database_url)
        if self.url.get_backend_name() == "sqlite" and engine is None:
            ensure_private_dir(settings.data_dir)
            _create_private(self.url)
        self.engine = engine or create_engine_for(self.url)
        info = {"pledge_store": self}
        self._writer = sessionmaker(bind=self.engine, expire_on_commit=False, info=info)
        self._reader = sessionmaker(
            bind=self.engine.execution_options(**{READ_ONLY: True}),
            expire_on_commit=False,
            info=info,
        )
        self._lock = threading.Lock()
        self._vault: Vault | None = None
        self._signer: Signer | None = None

    @classmethod
    def open(cls, settings: Settings | None = None) -> Store:
        """A store for `settings` (default: from the environment). Does not connect yet."""
        return cls(settings or get_settings())

    @property
    def is_postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: commit on success, roll back on any error, errors explained."""
        with self._translated(), self._writer() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only transaction; on SQLite it does not take the write lock.

        Closing (not rolling back) ends it, so objects read stay usable afterwards; the pool
        rolls the connection back when it is returned.
        """
        with self._translated(), self._reader() as session:
            yield session

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise StoreError(describe_db_error(exc, self.url)) from exc

    @property
    def vault(self) -> Vault:
        """The vault with the master key loaded (created on first use of a new installation)."""
        with self._lock:
            if self._vault is None:
                from pledge.store.vault import Vault

                self._vault = Vault.open(self)
            return self._vault

    @property
    def signer(self) -> Signer:
        """The Ed25519 key that signs audit checkpoints (created on first use)."""
        with self._lock:
            if self._signer is None:
                from pledge.store.signing import Signer

                self._signer = Signer.load_or_create(self.settings.audit_key_path)
            return self._signer

    def compact_after_erasure(self, session: Session) -> None:
        """Once `session` commits, fold SQLite's WAL into the database file and truncate it.

        Call it in the transaction that shreds a subject. Until a checkpoint, the WAL keeps
        whole old pages — the wrapped key just destroyed, rows `secure_delete` zeroed in the
        database file — and a passive checkpoint leaves the file's bytes behind. PostgreSQL has
        nothing to do here: its dead rows hold only sealed payloads and wrapped keys until
        VACUUM reuses them.
        """
        if not self.is_sqlite:
            return
        session.info[_COMPACT] = True
        if not event.contains(session, "after_commit", _compact_pending):
            event.listen(session, "after_commit", _compact_pending)

    def checkpoint_wal(self) -> bool:
        """`PRAGMA wal_checkpoint(TRUNCATE)`; False when readers or a writer kept it from
        finishing within the busy timeout (the next one catches up)."""
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None
            busy, _, _ = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.close()
        if busy:
            log.warning("SQLite WAL checkpoint after an erasure could not finish (busy)")
        return not busy

    def dispose(self) -> None:
        """Close every pooled connection (tests, and before a process exits)."""
        self.engine.dispose()


def _compact_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released (after_commit fires for those too)
    if session.info.pop(_COMPACT, False):
        store_of(session).checkpoint_wal()


def _create_private(url: URL) -> None:
    """Create a SQLite database file owner-only before SQLite makes it with the umask's mode."""
    name = url.database
    if name and name != ":memory:" and not name.startswith("file:"):
        path = Path(name)
        if path.parent.is_dir():
            ensure_private_file(path)


def store_of(session: Session) -> Store:
    """The store a session was opened by (see `Store`)."""
    store = session.info.get("pledge_store")
    if not isinstance(store, Store):
        raise StoreError("this session was not opened by a Pledge Store; use store.transaction()")
    return store
