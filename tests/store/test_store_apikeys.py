"""API keys: shown once, stored hashed, verified, revoked, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pledge import apikeys
from pledge.cli import build
from pledge.errors import NotFoundError
from pledge.store import Store, audit
from pledge.store.tables import ApiKey


def test_create_verify_revoke(store: Store) -> None:
    with store.transaction() as session:
        record, secret = apikeys.create(session, "CI pipeline", "service", actor="cli:ops")
    assert secret.startswith(f"plg_{record.id}_") and len(secret) > 50
    with store.reader() as session:
        stored = session.execute(select(ApiKey.secret_hash)).scalar_one()
        assert secret not in stored and secret.split("_", 2)[2] not in stored
        found = apikeys.verify(session, secret)
        assert found is not None and found.role == "service" and found.active
        for wrong in ("", "plg_", f"plg_{record.id}_wrong", secret + "x", "Bearer " + secret):
            assert apikeys.verify(session, wrong) is None
    with store.transaction() as session:
        revoked = apikeys.revoke(session, record.id, actor="cli:ops")
        assert not revoked.active
        assert apikeys.revoke(session, record.id, actor="cli:ops").revoked_at == revoked.revoked_at
    with store.reader() as session:
        assert apikeys.verify(session, secret) is None
        actions = [e.action for e in audit.list_events(session).events]
    assert actions == ["api_key.created", "api_key.revoked"]
    assert audit.verify(store).ok


def test_bad_input(store: Store) -> None:
    with store.transaction() as session:
        with pytest.raises(ValueError, match="unknown role"):
            apikeys.create(session, "x", "root")
        with pytest.raises(ValueError, match="name"):
            apikeys.create(session, "  ", "admin")
        with pytest.raises(NotFoundError):
            apikeys.revoke(session, "nope")


def test_keys_commands(store_env: Store) -> None:
    runner = CliRunner()
    created = runner.invoke(build(), ["keys", "create", "--name", "ops laptop", "--role", "admin"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    key_id = secret.split("_")[1]
    listed = runner.invoke(build(), ["keys", "list"])
    assert key_id in listed.output and "admin" in listed.output and secret not in listed.output
    assert runner.invoke(build(), ["keys", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(build(), ["keys", "list"]).output
    bad = runner.invoke(build(), ["keys", "create", "--name", "x", "--role", "root"])
    assert bad.exit_code == 2 and "unknown role" in bad.output
    missing = runner.invoke(build(), ["keys", "revoke", "nope"])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_rotate_master_command(store_env: Store) -> None:
    with store_env.transaction() as session:
        sid = store_env.vault.find_or_create_subject(session, "email", "a@b.example")
    result = CliRunner().invoke(build(), ["keys", "rotate-master"])
    assert result.exit_code == 0 and "1 data keys re-wrapped" in result.output
    fresh = Store(store_env.settings)
    try:
        with fresh.reader() as session:
            assert fresh.vault.identities(session, sid) == {"email": ["a@b.example"]}
    finally:
        fresh.dispose()
