"""Shared fixtures: a migrated Pledge store on SQLite and on PostgreSQL.

Tests that take `store` (or `settings`, `db_url`) run once per backend chosen with
`--db sqlite|postgres|all` (default all). PostgreSQL tests get a fresh database with a random
name on 127.0.0.1:5432 (user postgres, trust auth), dropped afterwards. When PostgreSQL is
unreachable they are skipped — or fail, with PLEDGE_REQUIRE_SERVICES=1 as in CI.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pledge.config import Settings
from pledge.store.db import Store
from pledge.store.migrations import upgrade

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
RUNTIME_ENV = (
    "PLEDGE_DATA_DIR",
    "PLEDGE_DATABASE_URL",
    "PLEDGE_MASTER_KEY_FILE",
    "PLEDGE_AUDIT_KEY_FILE",
    "PLEDGE_AUDIT_HEAD_FILE",
    "PLEDGE_SMTP_URL",
    "PLEDGE_PUBLIC_URL",
    "PLEDGE_CHECKPOINT_EVERY",
    "PLEDGE_PHONE_REGION",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres", "all"),
        default="all",
        help="database backend(s) for store tests (default: all)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db")
        backends = ["sqlite", "postgres"] if chosen == "all" else [chosen]
        only = metafunc.definition.get_closest_marker("backend")
        if only is not None:
            backends = [b for b in backends if b in only.args]
        metafunc.parametrize("db_backend", backends)


@pytest.fixture(autouse=True)
def _clean_runtime_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's PLEDGE_* settings must not leak into tests."""
    for name in RUNTIME_ENV:
        monkeypatch.delenv(name, raising=False)


def _require_services() -> bool:
    return os.environ.get("PLEDGE_REQUIRE_SERVICES") == "1"


def _pg_admin() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL on 127.0.0.1:5432 is unreachable: {exc}"
        if _require_services():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    """A database URL for a fresh, empty database of the chosen backend."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'pledge.db'}"
        return
    name = f"pledge_test_{secrets.token_hex(6)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, checkpoint_every=1000)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A migrated store; its master key and audit key live in the test's data dir."""
    opened = Store(settings)
    upgrade(opened)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def store_env(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The same store, also configured in the environment (for CLI commands and subprocesses)."""
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(store.settings.data_dir))
    monkeypatch.setenv("PLEDGE_DATABASE_URL", store.settings.database_url)
    return store


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """A list to put started `pledge worker` processes in; those still running are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
