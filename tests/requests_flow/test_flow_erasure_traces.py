"""After an erasure, nothing of the person is left in clear in Pledge's own database files.

The bytes are read as an attacker holding the files would: on SQLite the database, its WAL
and its shared-memory file; on PostgreSQL every heap page of every table (and its TOAST),
dead row versions included, through `pageinspect` — no VACUUM in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flowsupport import ALICE, FIXTURE, latest_code, mails_to, run_jobs
from sqlalchemy import select
from sqlalchemy.engine import make_url

from pledge.config import Settings
from pledge.manifest.model import Manifest
from pledge.requests import service
from pledge.requests.tables import DataRequest
from pledge.store.db import Store
from pledge.store.migrations import upgrade
from pledge.store.tables import Identity, Subject


@pytest.fixture
def any_store(tmp_path: Path, product: dict[str, str], db_url: str) -> Iterator[Store]:
    """The flow's store on the backend under test (SQLite or PostgreSQL)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        manifest=FIXTURE,
        public_url="https://privacy.flow.example",
    )
    store = Store(settings)
    upgrade(store)
    store.vault  # noqa: B018
    try:
        yield store
    finally:
        store.dispose()


def sqlite_bytes(store: Store) -> bytes:
    """The database file, its WAL and its shared-memory index, as they are on disk."""
    path = Path(store.url.database or "")
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def postgres_bytes(store: Store) -> bytes:
    """Every tuple of every page of every table and TOAST table, dead versions included."""
    url = make_url(store.settings.database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        tables = conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 't') "
            "AND n.nspname IN ('public', 'pg_toast') AND pg_relation_size(c.oid) > 0"
        ).fetchall()
        chunks = []
        for (name,) in tables:
            pages = conn.execute("SELECT pg_relation_size(%s::regclass) / 8192", (name,))
            (count,) = pages.fetchone() or (0,)
            for page in range(int(count)):
                rows = conn.execute(
                    "SELECT t_data FROM heap_page_items(get_raw_page(%s, %s)) "
                    "WHERE t_data IS NOT NULL",
                    (name, page),
                )
                chunks.extend(bytes(data) for (data,) in rows)
    return b"".join(chunks)


def store_bytes(store: Store) -> bytes:
    return postgres_bytes(store) if store.is_postgres else sqlite_bytes(store)


def test_nothing_of_an_erased_person_is_left_in_clear(any_store: Store, manifest: Manifest) -> None:
    store = any_store
    intake = service.Intake(kind="erasure", email=ALICE, country="NO")
    with store.transaction() as session:
        done = service.submit(
            session, manifest, intake, actor="subject", public_url=store.settings.public_url
        )
    run_jobs(store)
    with store.transaction() as session:
        service.verify(session, manifest, done.id, latest_code(store, ALICE))
        req = session.get(DataRequest, done.id)
        assert req is not None
        wrapped = session.scalar(select(Subject.wrapped_key).where(Subject.id == req.subject_id))
        identity = session.scalar(select(Identity.ciphertext).limit(1))
    assert wrapped and identity
    before = store_bytes(store)
    # the scan can see what is stored: the key and identity are there before the erasure
    assert wrapped in before and identity in before
    run_jobs(store)
    with store.reader() as session:
        req = session.get(DataRequest, done.id)
        assert req is not None and req.state == "completed", req.result
    assert any("R-" in str(m["Subject"]) for m in mails_to(store, ALICE)[2:])  # confirmation
    found = store_bytes(store)
    assert ALICE.encode() not in found
    assert ALICE.encode("utf-16-le") not in found


def test_sqlite_keeps_no_copy_of_a_shredded_key_in_its_wal(
    flow_store: Store, manifest: Manifest
) -> None:
    """secure_delete zeroes the database file; the WAL checkpoint after the erasure drops
    the old page images the WAL still held."""
    intake = service.Intake(kind="erasure", email=ALICE, country="NO")
    with flow_store.transaction() as session:
        done = service.submit(
            session, manifest, intake, actor="subject", public_url=flow_store.settings.public_url
        )
    run_jobs(flow_store)
    with flow_store.transaction() as session:
        service.verify(session, manifest, done.id, latest_code(flow_store, ALICE))
        req = session.get(DataRequest, done.id)
        assert req is not None
        wrapped = session.scalar(select(Subject.wrapped_key).where(Subject.id == req.subject_id))
        identity = session.scalar(select(Identity.ciphertext).limit(1))
    assert wrapped and identity
    assert wrapped in sqlite_bytes(flow_store) and identity in sqlite_bytes(flow_store)
    run_jobs(flow_store)
    found = sqlite_bytes(flow_store)
    assert wrapped not in found and identity not in found
