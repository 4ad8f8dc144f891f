"""Migration 0007: the `requests` table takes the kind `limit_sensitive` (SQLite and
PostgreSQL), and going back restores the old check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import inspect

from pledge.config import Settings
from pledge.store import Store
from pledge.store.migrations import _config, current, upgrade


@pytest.fixture
def store_at_0005(settings: Settings) -> Iterator[Store]:
    opened = Store(settings)
    upgrade(opened, "0005_one_limit_store")
    try:
        yield opened
    finally:
        opened.dispose()


def kind_check(store: Store) -> str:
    checks = inspect(store.engine).get_check_constraints("requests")
    (found,) = [str(c["sqltext"]) for c in checks if c["name"] == "ck_requests_known_kind"]
    return found


def test_the_kind_check_gains_limit_sensitive_and_loses_it_going_back(
    store_at_0005: Store,
) -> None:
    store = store_at_0005
    assert "limit_sensitive" not in kind_check(store)
    assert upgrade(store, "0007_limit_sensitive") == "0007_limit_sensitive"
    assert "limit_sensitive" in kind_check(store) and "opt_out_sale_sharing" in kind_check(store)
    cfg = _config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005_one_limit_store")
    assert current(store) == "0005_one_limit_store"
    assert "limit_sensitive" not in kind_check(store)
