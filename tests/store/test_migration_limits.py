"""Migration 0005: a sale/sharing opt-out kept as a request flag becomes a processing limit the
consent decisions read, and the old table goes (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text

from pledge.config import Settings
from pledge.consent.limits import active_limits
from pledge.store import Store
from pledge.store.migrations import head, upgrade

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def old_store(settings: Settings) -> Iterator[Store]:
    opened = Store(settings)
    upgrade(opened, "0004_consent_import")
    try:
        yield opened
    finally:
        opened.dispose()


def test_opt_out_flags_become_limits(old_store: Store) -> None:
    with old_store.engine.begin() as conn:
        for subject in ("s-1", "s-2", "s-3"):
            conn.execute(
                text("INSERT INTO subjects (id, created_at, shredded_at) VALUES (:id, :at, :at)"),
                {"id": subject, "at": NOW},
            )
        flag = text(
            "INSERT INTO subject_flags (subject_id, kind, purpose, created_at, lifted_at)"
            " VALUES (:s, :k, :p, :at, :lifted)"
        )
        for subject, kind, purpose, lifted in (
            ("s-1", "opt_out_sale_sharing", "sale", None),
            ("s-1", "opt_out_sale_sharing", "sharing", None),
            ("s-2", "opt_out_sale_sharing", "sale", NOW),  # lifted: not carried over
            ("s-3", "restriction", "*", None),  # already written to both tables
        ):
            conn.execute(flag, {"s": subject, "k": kind, "p": purpose, "at": NOW, "lifted": lifted})
    assert upgrade(old_store) == head()
    assert "subject_flags" not in inspect(old_store.engine).get_table_names()
    with old_store.reader() as session:
        assert active_limits(session, "subject:s-1")["objection"] == {"sale", "sharing"}
        assert not any(active_limits(session, "subject:s-2").values())
        assert not any(active_limits(session, "subject:s-3").values())
