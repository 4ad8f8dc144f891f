"""The audit log: chained, append-only, tamper-evident, with signed checkpoints."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from pledge.cli import build
from pledge.config import Settings
from pledge.store import PersonalDataError, QueryError, Store, audit
from pledge.store.audit import _record_fast, canonical_record
from pledge.store.migrations import upgrade
from pledge.store.signing import Checkpoint, Signer


def append_many(store: Store, n: int, start: int = 0) -> None:
    with store.transaction() as session:
        for i in range(start, start + n):
            audit.append(session, "key:abc", "consent.recorded", "subject", f"s-{i}", {"n": i})


def tamper(store: Store, *statements: str) -> None:
    """Run SQL as a database owner would, around the append-only triggers."""
    with store.engine.begin() as conn:
        if store.is_postgres:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
            conn.exec_driver_sql("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
        else:
            for name in ("audit_events", "audit_checkpoints"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}_no_update")
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}_no_delete")
        for statement in statements:
            conn.exec_driver_sql(statement)


def cli_verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build(), ["audit", "verify", *args])
    return result.exit_code, result.output


def test_an_untouched_chain_verifies(store: Store) -> None:
    append_many(store, 25)
    result = audit.verify(store)
    assert result.ok and result.events == 25 and result.last_seq == 25
    with store.reader() as session:
        events = audit.list_events(session, limit=25).events
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


def test_empty_log_verifies(store: Store) -> None:
    assert audit.verify(store).ok
    with store.reader() as session:
        assert audit.head(session) == (0, audit.GENESIS)
    append_many(store, 2)
    with store.reader() as session:
        assert audit.head(session)[0] == 2


def test_events_are_append_only_at_the_database(store: Store) -> None:
    append_many(store, 2)
    for statement in (
        "UPDATE audit_events SET actor = 'x' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert audit.verify(store).ok


def test_edited_event_is_found(store_env: Store) -> None:
    store = store_env
    append_many(store, 10)
    tamper(store, "UPDATE audit_events SET details = '{\"n\":999}' WHERE seq = 4")
    result = audit.verify(store)
    assert not result.ok and result.first_bad_seq == 4 and "edited" in result.reason
    code, output = cli_verify()
    assert code == 1 and "seq 4" in output


def test_edited_event_with_recomputed_hash_is_found_at_the_next_link(store: Store) -> None:
    append_many(store, 10)
    with store.reader() as session:
        e = audit.list_events(session, cursor="3", limit=1).events[0]
    forged = canonical_record(
        e.seq,
        e.occurred_at,
        "key:evil",
        e.action,
        e.object_type,
        e.object_id,
        audit.canonical_details(e.details),
        e.prev_hash,
    )
    new_hash = hashlib.sha256(forged).hexdigest()
    tamper(store, f"UPDATE audit_events SET actor = 'key:evil', hash = '{new_hash}' WHERE seq = 4")
    result = audit.verify(store)
    assert not result.ok and result.first_bad_seq == 5


def test_deleted_event_is_found(store_env: Store) -> None:
    append_many(store_env, 10)
    tamper(store_env, "DELETE FROM audit_events WHERE seq = 6")
    result = audit.verify(store_env)
    assert not result.ok and result.first_bad_seq == 6 and "missing" in result.reason
    code, output = cli_verify()
    assert code == 1 and "seq 6" in output


def test_inserted_event_is_found(store_env: Store) -> None:
    store = store_env
    append_many(store, 10)
    # make room at seq 5 by moving every later event up one, then put a forged event there
    tamper(
        store,
        "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 5",
        "UPDATE audit_events SET seq = seq - 99 WHERE seq >= 105",
        "INSERT INTO audit_events (seq, occurred_at, actor, action, object_type, object_id, "
        "details, prev_hash, hash) SELECT 5, occurred_at, 'key:evil', 'consent.recorded', "
        "'subject', 's-x', '{}', hash, hash FROM audit_events WHERE seq = 4",
    )
    result = audit.verify(store)
    assert not result.ok and result.first_bad_seq == 5
    code, output = cli_verify()
    assert code == 1 and "seq 5" in output


def test_swapped_events_are_found(store_env: Store) -> None:
    store = store_env
    append_many(store, 10)
    tamper(
        store,
        "UPDATE audit_events SET seq = 1000 WHERE seq = 7",
        "UPDATE audit_events SET seq = 7 WHERE seq = 8",
        "UPDATE audit_events SET seq = 8 WHERE seq = 1000",
    )
    result = audit.verify(store)
    assert not result.ok and result.first_bad_seq == 7
    code, output = cli_verify()
    assert code == 1 and "seq 7" in output


def test_truncated_tail_is_found_against_an_external_checkpoint(
    store_env: Store, tmp_path: Path
) -> None:
    store = store_env
    append_many(store, 10)
    anchor = tmp_path / "anchor.json"
    result = CliRunner().invoke(build(), ["audit", "checkpoint", "--output", str(anchor)])
    assert result.exit_code == 0, result.output
    assert json.loads(anchor.read_text())["seq"] == 10
    assert cli_verify("--against", str(anchor))[0] == 0
    # Someone holding the database *and* the data folder: cut the tail, drop the stored
    # checkpoints and the head file, and sign a fresh head over the shortened log.
    tamper(store, "DELETE FROM audit_events WHERE seq > 7", "DELETE FROM audit_checkpoints")
    store.settings.audit_head_path.unlink()
    audit.checkpoint(store)
    assert audit.verify(store).ok  # consistent inside Pledge: only the anchor can tell
    result_ = audit.verify(store, Checkpoint.read(anchor))
    assert not result_.ok and result_.first_bad_seq == 8 and "cut off" in result_.reason
    code, output = cli_verify("--against", str(anchor))
    assert code == 1 and "seq 8" in output
    assert cli_verify("--checkpoint", str(anchor))[0] == 1  # the older name still works


def test_truncated_tail_is_found_against_stored_checkpoints(tmp_path: Path, db_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, checkpoint_every=5)
    store = Store(settings)
    upgrade(store)
    try:
        append_many(store, 12)
        with store.reader() as session:
            assert [c.seq for c in audit.stored_checkpoints(session)] == [1, 5, 10]
        assert audit.verify(store).checkpoints == 3
        tamper(store, "DELETE FROM audit_events WHERE seq > 8")
        result = audit.verify(store)
        assert not result.ok and result.first_bad_seq == 9
    finally:
        store.dispose()


def test_rewritten_chain_is_found_against_a_checkpoint(store: Store) -> None:
    append_many(store, 6)
    anchor = audit.checkpoint(store)
    # rewrite event 3 and re-chain everything after it, consistently
    with store.reader() as session:
        events = audit.list_events(session).events
    prev, statements = events[1].hash, []
    for e in events[2:]:
        actor = "key:evil" if e.seq == 3 else e.actor
        record = canonical_record(
            e.seq,
            e.occurred_at,
            actor,
            e.action,
            e.object_type,
            e.object_id,
            audit.canonical_details(e.details),
            prev,
        )
        new = hashlib.sha256(record).hexdigest()
        statements.append(
            f"UPDATE audit_events SET actor = '{actor}', prev_hash = '{prev}', hash = '{new}' "
            f"WHERE seq = {e.seq}"
        )
        prev = new
    tamper(store, *statements, "DELETE FROM audit_checkpoints")
    result = audit.verify(store, anchor)
    assert not result.ok and result.first_bad_seq == 6


def test_checkpoint_signature_verifies_and_fails_when_altered(store: Store) -> None:
    append_many(store, 3)
    cp = audit.checkpoint(store)
    assert cp.signature_valid() and cp.seq == 3
    assert audit.checkpoint(store) == cp  # same head: same checkpoint
    data = cp.as_dict()
    for field, value in (("seq", 2), ("hash", "0" * 64), ("time", "2020-01-01T00:00:00.000000Z")):
        altered = Checkpoint.from_dict({**data, field: value})
        assert not altered.signature_valid()
        result = audit.verify(store, altered)
        assert not result.ok and "signature" in result.reason

    impostor = Signer(Ed25519PrivateKey.generate()).sign(cp.seq, cp.hash, cp.time)
    assert impostor.signature_valid()
    result = audit.verify(store, impostor)
    assert not result.ok and "not by this installation" in result.reason


def test_checkpoints_are_written_every_n_events(tmp_path: Path, db_url: str) -> None:
    store = Store(Settings(data_dir=tmp_path / "data", database_url=db_url, checkpoint_every=4))
    upgrade(store)
    try:
        append_many(store, 9)
        with store.reader() as session:
            stored = audit.stored_checkpoints(session)
        assert [c.seq for c in stored] == [1, 4, 8] and all(c.signature_valid() for c in stored)
        key = store.settings.audit_key_path
        assert key.stat().st_mode & 0o777 == 0o600
    finally:
        store.dispose()


def test_raw_personal_data_is_refused(store: Store) -> None:
    with store.transaction() as session:
        with pytest.raises(PersonalDataError):
            audit.append(session, "t", "x.y", "subject", "s", {"to": "ada@example.org"})
        with pytest.raises(PersonalDataError):
            audit.append(session, "user:ada@example.org", "x.y", "subject", "s", {})
        hashed = audit.hash_identity(session, "email", "Ada@Example.org")
        assert hashed.startswith("ih1:") and "example" not in hashed
        assert hashed == audit.hash_identity(session, "email", " ada@example.org")
        audit.append(session, "t", "x.y", "subject", "s", {"to": hashed})
        with pytest.raises(ValueError, match="plain JSON"):
            audit.append(session, "t", "x.y", "subject", "s", {"n": float("nan")})
        with pytest.raises(ValueError, match="characters"):
            audit.append(session, "", "x.y", "subject", "s", {})


def test_concurrent_appenders_keep_one_chain(store: Store) -> None:
    store.signer  # noqa: B018
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(10):
                append_many(store, 2, start=offset * 100 + i * 2)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = audit.verify(store)
    assert result.ok and result.events == 80


def test_list_events_filters_and_pages(store: Store) -> None:
    append_many(store, 7)
    with store.transaction() as session:
        audit.append(session, "key:other", "request.created", "request", "r-1", {})
    with store.reader() as session:
        page = audit.list_events(session, limit=3)
        assert [e.seq for e in page.events] == [1, 2, 3] and page.next_cursor == "3"
        page = audit.list_events(session, cursor=page.next_cursor, limit=3)
        assert [e.seq for e in page.events] == [4, 5, 6]
        last = audit.list_events(session, cursor=page.next_cursor, limit=3)
        assert [e.seq for e in last.events] == [7, 8] and last.next_cursor is None
        newest = audit.list_events(session, audit.EventFilter(newest_first=True), limit=2)
        assert [e.seq for e in newest.events] == [8, 7]
        only = audit.list_events(session, audit.EventFilter(actor="key:other"))
        assert [e.action for e in only.events] == ["request.created"]
        by_object = audit.list_events(
            session, audit.EventFilter(object_type="subject", object_id="s-2")
        )
        assert [e.details for e in by_object.events] == [{"n": 2}]
        future = datetime.now(UTC) + timedelta(days=1)
        assert not audit.list_events(session, audit.EventFilter(since=future)).events
        assert len(audit.list_events(session, audit.EventFilter(until=future)).events) == 8
        for bad in ("abc", "-1", "9" * 30):
            with pytest.raises(QueryError):
                audit.list_events(session, cursor=bad)
        with pytest.raises(QueryError):
            audit.list_events(session, limit=0)
        with pytest.raises(QueryError):
            audit.list_events(session, audit.EventFilter(since=datetime(2026, 1, 1)))


def test_export_is_json_lines_an_auditor_can_recheck(store_env: Store, tmp_path: Path) -> None:
    append_many(store_env, 5)
    out = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(build(), ["audit", "export", "--since", "2", "--output", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["seq"] for e in lines] == [3, 4, 5]
    prev = lines[0]["prev_hash"]
    for e in lines:
        record = canonical_record(
            e["seq"],
            e["occurred_at"],
            e["actor"],
            e["action"],
            e["object_type"],
            e["object_id"],
            json.dumps(e["details"], sort_keys=True, separators=(",", ":")),
            e["prev_hash"],
        )
        assert e["prev_hash"] == prev and hashlib.sha256(record).hexdigest() == e["hash"]
        prev = e["hash"]


_text = st.text(st.characters(codec="utf-8"), max_size=40)


@given(
    seq=st.integers(min_value=1, max_value=2**62),
    texts=st.lists(_text, min_size=5, max_size=5),
    object_id=st.none() | _text,
    details=st.dictionaries(_text, st.integers() | _text | st.booleans() | st.none(), max_size=4),
)
def test_fast_encoding_equals_the_reference(
    seq: int, texts: list[str], object_id: str | None, details: dict[str, object]
) -> None:
    args = (
        seq,
        texts[0],
        texts[1],
        texts[2],
        texts[3],
        object_id,
        audit.canonical_details(details),
        texts[4],
    )
    assert _record_fast(*args) == canonical_record(*args)


def test_cli_verify_is_ok_on_a_good_log(store_env: Store) -> None:
    append_many(store_env, 3)
    code, output = cli_verify()
    assert code == 0 and output.startswith("ok: 3 events")


def test_store_error_is_reported_by_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path / "empty"))
    result = CliRunner().invoke(build(), ["audit", "verify"])
    assert result.exit_code == 2 and "pledge db upgrade" in result.output
