"""The store: configuration, SQLite settings, migrations, clear errors on an unusable database."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, text
from typer.testing import CliRunner

from pledge.cli import build
from pledge.config import Settings, get_settings
from pledge.errors import ConfigError
from pledge.store import Store, StoreError
from pledge.store.db import create_engine_for, normalise_url
from pledge.store.migrations import current, head, require_current, upgrade
from pledge.store.tables import Base, VaultKey


def test_settings_default_to_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = get_settings()
    data = tmp_path / "pledge-data"
    assert settings.data_dir == data
    assert settings.database_url == f"sqlite:///{data / 'pledge.db'}"
    assert settings.master_key_path == data / "master.key"
    assert settings.public_url == "http://127.0.0.1:8000" and settings.checkpoint_every == 1000
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PLEDGE_CHECKPOINT_EVERY", "50")
    moved = get_settings()
    assert moved.master_key_path == tmp_path / "elsewhere" / "master.key"
    assert moved.checkpoint_every == 50


def test_data_dir_is_created_private(tmp_path: Path) -> None:
    store = Store(Settings(data_dir=tmp_path / "new" / "data"))
    try:
        assert stat.S_IMODE((tmp_path / "new" / "data").stat().st_mode) == 0o700
    finally:
        store.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(Settings(data_dir=tmp_path / "data"))
    upgrade(store)
    yield store
    store.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_store: Store) -> None:
    store = sqlite_store
    with store.reader() as session:
        pragma = {
            name: session.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "synchronous", "secure_delete")
        }
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 2,
        "secure_delete": 1,
    }


def test_migrations_build_exactly_the_models(store: Store) -> None:
    """Every service's tables (imported here: the migrations register none) match the schema."""
    import pledge.consent.tables
    import pledge.requests.tables  # noqa: F401

    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert current(store) == head()
    assert upgrade(store) == head()  # running again is harmless
    require_current(store)


def test_unmigrated_database_says_what_to_do(tmp_path: Path, db_url: str) -> None:
    store = Store(Settings(data_dir=tmp_path / "data", database_url=db_url))
    try:
        with pytest.raises(StoreError, match="pledge db upgrade"):
            require_current(store)
        with pytest.raises(StoreError, match="pledge db upgrade"), store.reader() as session:
            session.execute(text("SELECT count(*) FROM jobs"))
    finally:
        store.dispose()


def test_locked_sqlite_database_is_a_clear_error_and_loses_nothing(sqlite_store: Store) -> None:
    store = sqlite_store
    impatient = Store(store.settings, engine=create_engine_for(store.url, busy_timeout_ms=100))
    holder = sqlite3.connect(store.url.database or "", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with (
            pytest.raises(StoreError, match="locked by another process"),
            impatient.transaction() as session,
        ):
            session.execute(text("INSERT INTO vault_keys VALUES ('x', 'k', x'00', '2026-01-01')"))
        holder.execute("ROLLBACK")
        with impatient.reader() as session:
            assert session.execute(text("SELECT count(*) FROM vault_keys")).scalar() == 0
    finally:
        holder.close()
        impatient.dispose()


def test_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    url = "postgresql://pledge:secret-password@127.0.0.1:1/pledge"
    store = Store(Settings(data_dir=tmp_path, database_url=url))
    with pytest.raises(StoreError) as caught, store.reader() as session:
        session.execute(text("SELECT 1"))
    message = str(caught.value)
    assert "cannot connect to PostgreSQL" in message and "secret-password" not in message


def test_missing_sqlite_folder_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'pledge.db'}"
    store = Store(Settings(data_dir=tmp_path, database_url=url))
    with pytest.raises(StoreError, match="folder is missing"), store.reader() as session:
        session.execute(text("SELECT 1"))


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_database_urls(raw: str, driver: str) -> None:
    assert normalise_url(raw).drivername == driver


@pytest.mark.parametrize("raw", ["mysql://u@h/db", "not a url"])
def test_unsupported_database_urls(raw: str) -> None:
    with pytest.raises(ConfigError, match="PLEDGE_DATABASE_URL"):
        normalise_url(raw)


def test_db_commands(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PLEDGE_DATABASE_URL", db_url)
    runner = CliRunner()
    before = runner.invoke(build(), ["db", "current"])
    assert before.exit_code == 0 and "needs `pledge db upgrade`" in before.output
    result = runner.invoke(build(), ["db", "upgrade"])
    assert result.exit_code == 0 and f"at revision {head()} (migrated from empty)" in result.output
    again = runner.invoke(build(), ["db", "upgrade"])
    assert "already up to date" in again.output
    after = runner.invoke(build(), ["db", "current"])
    assert after.exit_code == 0 and "up to date" in after.output


def test_db_upgrade_reindexes_identities_of_an_older_version(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PLEDGE_DATABASE_URL", db_url)
    runner = CliRunner()
    assert runner.invoke(build(), ["db", "upgrade"]).exit_code == 0
    store = Store.open()
    try:
        with store.transaction() as session:
            sid = store.vault.find_or_create_subject(session, "phone", "+1 202 555 0143")
            session.execute(delete(VaultKey).where(VaultKey.name == "index-format"))
    finally:
        store.dispose()
    monkeypatch.setenv("PLEDGE_PHONE_REGION", "NO")  # changed since: indexes must be redone
    result = runner.invoke(build(), ["db", "upgrade"])
    assert result.exit_code == 0 and "1 identities re-indexed for v2/NO" in result.output
    assert "already up to date" in runner.invoke(build(), ["db", "upgrade"]).output
    store = Store.open()
    try:
        with store.reader() as session:
            assert store.vault.find_subject(session, "phone", "+12025550143") == sid
    finally:
        store.dispose()
    listed = runner.invoke(build(), ["keys", "reindex"])
    assert listed.exit_code == 0 and "1 identities checked (1 same)" in listed.output
