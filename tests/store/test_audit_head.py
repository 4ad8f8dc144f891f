"""An emptied, shortened or rewound audit log is not "ok": the external head catches it.

Each attack is what someone holding the database (not the data folder) can do: delete or
rewrite rows around the append-only triggers, including the stored checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from test_store_audit import append_many, cli_verify, tamper
from typer.testing import CliRunner

from pledge.cli import build
from pledge.config import Settings
from pledge.store import Store, audit
from pledge.store.audit import canonical_record
from pledge.store.audit_head import publish, read_head
from pledge.store.handlers import CHECKPOINT_JOB
from pledge.store.jobs import Worker, enqueue_periodic, periodics
from pledge.store.signing import Checkpoint


def head_of(store: Store) -> Checkpoint:
    found = read_head(store.settings.audit_head_path)
    assert found is not None
    return found


def rechain(store: Store, since: int, actor: str = "key:evil") -> list[str]:
    """UPDATEs rewriting events from `since` on, each re-hashed and re-linked consistently."""
    with store.reader() as session:
        events = audit.list_events(session, limit=1000).events
    prev, statements = events[since - 2].hash, []
    for e in events[since - 1 :]:
        details = audit.canonical_details(e.details)
        record = canonical_record(
            e.seq, e.occurred_at, actor, e.action, e.object_type, e.object_id, details, prev
        )
        new = hashlib.sha256(record).hexdigest()
        statements.append(
            f"UPDATE audit_events SET actor = '{actor}', prev_hash = '{prev}', hash = '{new}' "
            f"WHERE seq = {e.seq}"
        )
        prev = new
    return statements


def test_a_healthy_log_is_ok_and_names_its_external_head(store_env: Store) -> None:
    append_many(store_env, 12)
    assert head_of(store_env).seq == 1  # the first event is signed and published at once
    audit.checkpoint(store_env)
    head = head_of(store_env)
    assert head.seq == 12 and head.signature_valid()
    assert store_env.settings.audit_head_path.stat().st_mode & 0o777 == 0o600
    result = audit.verify(store_env)
    assert result.ok and result.head_seq == 12, result.summary()
    code, output = cli_verify()
    assert code == 0 and "external head at seq 12" in output


def test_an_emptied_log_fails(store_env: Store) -> None:
    append_many(store_env, 5)
    tamper(store_env, "DELETE FROM audit_events", "DELETE FROM audit_checkpoints")
    result = audit.verify(store_env)
    assert not result.ok and result.events == 0 and "emptied" in result.reason
    code, output = cli_verify()
    assert code == 1 and "emptied" in output


def test_a_truncated_tail_fails_without_stored_checkpoints(store_env: Store) -> None:
    append_many(store_env, 10)
    audit.checkpoint(store_env)
    tamper(store_env, "DELETE FROM audit_events WHERE seq > 6", "DELETE FROM audit_checkpoints")
    result = audit.verify(store_env)
    assert not result.ok and result.first_bad_seq == 7 and "cut off" in result.reason
    assert "external head" in result.reason
    code, output = cli_verify()
    assert code == 1 and "seq 7" in output


def test_a_rewritten_chain_with_checkpoints_deleted_fails(store: Store) -> None:
    append_many(store, 8)
    audit.checkpoint(store)
    tamper(store, *rechain(store, since=3), "DELETE FROM audit_checkpoints")
    result = audit.verify(store)
    assert not result.ok and result.first_bad_seq == 8 and "rewritten" in result.reason


def test_a_rewound_log_fails_and_is_not_blessed_by_a_newer_head(store: Store) -> None:
    append_many(store, 10)
    audit.checkpoint(store)
    # cut back to 6, then let the service append past the old head again
    tamper(store, "DELETE FROM audit_events WHERE seq > 6", "DELETE FROM audit_checkpoints")
    append_many(store, 8, start=100)
    cp = audit.checkpoint(store)
    assert cp.seq == 14
    assert head_of(store).seq == 10  # the head never moves over a log that lost it
    result = audit.verify(store)
    assert not result.ok and result.first_bad_seq == 10 and "external head" in result.reason


def test_verify_against_an_old_head_after_truncation_fails(
    store_env: Store, tmp_path: Path
) -> None:
    append_many(store_env, 9)
    old = tmp_path / "head-at-9.json"
    result = CliRunner().invoke(build(), ["audit", "checkpoint", "-o", str(old)])
    assert result.exit_code == 0, result.output
    assert Checkpoint.read(old) == head_of(store_env)
    append_many(store_env, 3, start=50)
    assert cli_verify("--against", str(old))[0] == 0  # the log still holds it: ok
    tamper(store_env, "DELETE FROM audit_events WHERE seq > 4", "DELETE FROM audit_checkpoints")
    code, output = cli_verify("--against", str(old))
    assert code == 1 and "seq 5" in output


def test_a_missing_head_file_fails_until_one_is_signed(store_env: Store) -> None:
    append_many(store_env, 4)
    store_env.settings.audit_head_path.unlink()
    result = audit.verify(store_env)
    assert not result.ok and result.first_bad_seq == 0 and "no external head" in result.reason
    result_ = CliRunner().invoke(build(), ["audit", "checkpoint"])
    assert result_.exit_code == 0 and json.loads(result_.output)["seq"] == 4
    assert audit.verify(store_env).ok and head_of(store_env).seq == 4


def test_an_empty_new_installation_is_ok(store: Store) -> None:
    result = audit.verify(store)
    assert result.ok and result.events == 0 and result.head_seq is None


def test_a_rolled_back_checkpoint_is_never_published(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as session:
        audit.append(session, "key:abc", "consent.recorded", "subject", "s-1", {})
        raise RuntimeError("the change failed")
    assert not store.settings.audit_head_path.exists()
    with store.transaction() as session:
        savepoint = session.begin_nested()
        audit.append(session, "key:abc", "consent.recorded", "subject", "s-2", {})
        savepoint.rollback()
        audit.append(session, "key:abc", "consent.recorded", "subject", "s-3", {})
    # The event signed inside the savepoint is gone; its head must not be published.
    assert audit.verify(store).ok


def test_publishing_only_moves_forward(store: Store) -> None:
    append_many(store, 3)
    first = audit.checkpoint(store)
    append_many(store, 2, start=10)
    newer = audit.checkpoint(store)
    assert head_of(store) == newer
    assert not publish(store, first)
    assert head_of(store) == newer


def test_the_periodic_job_signs_new_events_within_a_minute(store: Store) -> None:
    assert periodics()[CHECKPOINT_JOB].every.total_seconds() == 60
    append_many(store, 7)
    assert head_of(store).seq == 1
    worker = Worker(store, kinds=[CHECKPOINT_JOB], periodic=True)
    assert worker.run(threading.Event(), once=True) == 1
    assert head_of(store).seq == 7
    with store.reader() as session:
        assert [c.seq for c in audit.stored_checkpoints(session)] == [1, 7]
    # nothing new: the next window writes no checkpoint and leaves the head as it is
    with store.transaction() as session:
        enqueue_periodic(session, periodics()[CHECKPOINT_JOB], worker.clock() - timedelta(hours=1))
    assert worker.run(threading.Event(), once=True) == 1
    with store.reader() as session:
        assert [c.seq for c in audit.stored_checkpoints(session)] == [1, 7]
    assert audit.verify(store).ok


def test_a_head_signed_inside_a_savepoint_is_published_when_the_transaction_commits(
    store: Store,
) -> None:
    with store.transaction() as session:
        with session.begin_nested():  # released here: not yet committed
            audit.append(session, "key:abc", "consent.recorded", "subject", "s-1", {})
        assert not store.settings.audit_head_path.exists()
    assert head_of(store).seq == 1 and audit.verify(store).ok


def test_the_head_file_can_be_kept_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path / "data"))
    assert Settings().audit_head_path == tmp_path / "data" / "audit-head.json"
    monkeypatch.setenv("PLEDGE_AUDIT_HEAD_FILE", str(tmp_path / "anchor" / "head.json"))
    assert Settings().audit_head_path == tmp_path / "anchor" / "head.json"
