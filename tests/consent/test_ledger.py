"""The consent log proves itself (issue 11 item 2), on SQLite and PostgreSQL.

Someone with the database gets past the append-only triggers (SQLite: dropping them, which
needs the file; PostgreSQL: `session_replication_role = replica`). `pledge audit verify` must
then fail and name the record; SQLite's `INSERT OR REPLACE`, which needed no DDL, is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from consentsupport import lumen_copy
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from pledge.cli import build
from pledge.consent import importer, ledger, receipts, records
from pledge.consent.ids import uuid7
from pledge.consent.import_formats import RawRow
from pledge.consent.notice import notice_ref
from pledge.consent.receipts import signer_for
from pledge.consent.subjects import of_device
from pledge.consent.tables import APPEND_ONLY
from pledge.manifest.model import Manifest
from pledge.manifest_holder import ManifestHolder
from pledge.store import audit
from pledge.store.db import Store
from pledge.store.errors import StoreError


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    return ManifestHolder(str(lumen_copy(tmp_path / "lumen"))).manifest


@pytest.fixture
def logged(store_env: Store, manifest: Manifest) -> Iterator[tuple[Store, list[str]]]:
    """Three choices of one visitor (reject, accept, withdraw) and one imported record."""
    store = store_env
    subject = of_device(store.vault, "visitor-device-0001")
    signer = signer_for(Path(store.settings.data_dir))
    ids = []
    for mechanism in ("reject_all", "accept_all", "withdrawal"):
        choice = records.NewChoice(subject, mechanism, "eu", "en", "visitor")
        with store.transaction() as session:
            ids.append(records.record(session, manifest, signer, choice, "http://t").id)
    row = {
        "subject": "device:importeddevice01",
        "given_at": "2024-03-01T10:00:00Z",
        "notice_version": "old-1",
        "jurisdiction": "eu",
        "language": "en",
        "source": "oldtool",
        "categories": {"analytics": True},
    }
    options = importer.ImportOptions(
        actor="cli:test", issuer="http://t", notice_versions=frozenset({"old-1"})
    )
    done = importer.import_rows(store, manifest, [RawRow(1, row)], options)
    ids.append(done.records[0]["id"])
    yield store, ids


def _tamper(store: Store, statement: str, **params: str) -> None:
    """Change the log as someone with the database would, past the triggers."""
    with store.engine.begin() as conn:
        if store.is_postgres:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for table in (*APPEND_ONLY, "consent_imports"):
                for verb in ("update", "delete"):
                    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        conn.execute(text(statement), params)


def _verify_cli() -> tuple[int, str]:
    result = CliRunner().invoke(build(), ["audit", "verify"])
    return result.exit_code, result.output


def test_an_untouched_log_verifies(logged: tuple[Store, list[str]]) -> None:
    store, ids = logged
    found = ledger.verify(store)
    assert found.ok, found.problems
    assert found.records == len(ids)
    code, output = _verify_cli()
    assert code == 0, output
    assert "consent log ok: 4 records" in output


def test_a_rewritten_record_is_named(logged: tuple[Store, list[str]]) -> None:
    store, ids = logged
    _tamper(
        store,
        "UPDATE consent_records SET mechanism = 'accept_all', choices = :c WHERE id = :id",
        c='{"categories": {"analytics": true, "advertising": true}, "purposes": {}}',
        id=ids[0],
    )
    found = ledger.verify(store)
    assert [p.record for p in found.problems] == [ids[0]]
    assert "choices" in found.problems[0].reason and "collectionMethod" in found.problems[0].reason
    code, output = _verify_cli()
    assert code == 1 and ids[0] in output and "consent log FAILED" in output


def test_a_replaced_receipt_is_named(logged: tuple[Store, list[str]]) -> None:
    """Row and receipt swapped for those of another record of the same visitor."""
    store, ids = logged
    with store.reader() as session:
        second = session.execute(
            text("SELECT receipt FROM consent_records WHERE id = :id"), {"id": ids[1]}
        ).scalar_one()
    _tamper(store, "UPDATE consent_records SET receipt = :r WHERE id = :id", r=second, id=ids[2])
    problems = ledger.verify(store).problems
    assert {p.record for p in problems} == {ids[2]}
    assert any("not the one its audit event holds" in p.reason for p in problems)


def test_a_deleted_record_is_named(logged: tuple[Store, list[str]]) -> None:
    store, ids = logged
    _tamper(store, "DELETE FROM consent_records WHERE id = :id", id=ids[2])
    problems = ledger.verify(store).problems
    assert [p.record for p in problems] == [ids[2]]
    assert "missing" in problems[0].reason
    code, output = _verify_cli()
    assert code == 1 and ids[2] in output


def test_a_deleted_import_is_caught(logged: tuple[Store, list[str]]) -> None:
    store, ids = logged
    _tamper(store, "DELETE FROM consent_imports WHERE record_id = :id", id=ids[3])
    _tamper(store, "DELETE FROM consent_records WHERE id = :id", id=ids[3])
    problems = ledger.verify(store).problems
    assert len(problems) == 1 and problems[0].record.startswith("batch ")
    assert ids[3] in problems[0].reason  # the batch's first/last record


def test_reordered_records_are_named(logged: tuple[Store, list[str]]) -> None:
    """Swapping the first and the last choice makes the old reject_all the current state."""
    store, ids = logged
    columns = "mechanism, choices, recorded_at, receipt"
    with store.reader() as session:
        first, last = (
            session.execute(
                text(f"SELECT {columns} FROM consent_records WHERE id = :id"), {"id": i}
            ).one()
            for i in (ids[0], ids[2])
        )
    assign = "mechanism = :m, choices = :c, recorded_at = :t, receipt = :r"
    for target, source in ((ids[0], last), (ids[2], first)):
        m, c, t, r = source
        c = c if isinstance(c, str) else json.dumps(c)
        _tamper(
            store,
            f"UPDATE consent_records SET {assign} WHERE id = :id",
            m=m,
            c=c,
            t=t,
            r=r,
            id=target,
        )
    problems = ledger.verify(store).problems
    assert {p.record for p in problems} == {ids[0], ids[2]}


def test_a_record_added_outside_pledge_is_named(logged: tuple[Store, list[str]]) -> None:
    store, ids = logged
    columns = (
        "recorded_at, subject, mechanism, choices, notice_id, notice_version, jurisdiction, "
        "language, ip_prefix, user_agent_sha256, gpc_signal, gpc_applied, collector, made_by, "
        "receipt"
    )
    forged = ids[1][:-1] + ("0" if ids[1][-1] != "0" else "1")
    with store.engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO consent_records (id, {columns}) "
                f"SELECT :new, {columns} FROM consent_records WHERE id = :id"
            ),
            {"new": forged, "id": ids[1]},
        )
    problems = ledger.verify(store).problems
    assert forged in {p.record for p in problems}


@pytest.mark.backend("sqlite")  # REPLACE is SQLite's; PostgreSQL's ON CONFLICT is below
def test_insert_or_replace_is_refused_on_sqlite(logged: tuple[Store, list[str]]) -> None:
    store, ids = logged
    assert store.is_sqlite
    columns = [
        "id",
        "recorded_at",
        "subject",
        "mechanism",
        "choices",
        "notice_id",
        "notice_version",
        "jurisdiction",
        "language",
        "ip_prefix",
        "user_agent_sha256",
        "gpc_signal",
        "gpc_applied",
        "collector",
        "made_by",
        "receipt",
    ]
    chosen = ", ".join("'accept_all'" if c == "mechanism" else c for c in columns)
    statements = (
        f"INSERT OR REPLACE INTO consent_records ({', '.join(columns)}) "
        f"SELECT {chosen} FROM consent_records WHERE id = :id",
        f"REPLACE INTO consent_records ({', '.join(columns)}) "
        f"SELECT {chosen} FROM consent_records WHERE id = :id",
        "INSERT OR REPLACE INTO consent_imports SELECT * FROM consent_imports "
        "WHERE record_id = :id3",
    )
    for statement in statements:
        refused = pytest.raises((StoreError, DBAPIError), match="REPLACE on consent_")
        with refused, store.transaction() as session:
            session.execute(text(statement), {"id": ids[0], "id3": ids[3]})
    assert ledger.verify(store).ok
    with store.reader() as session:
        mechanism = session.execute(
            text("SELECT mechanism FROM consent_records WHERE id = :id"), {"id": ids[0]}
        ).scalar_one()
    assert mechanism == "reject_all"


@pytest.mark.backend("postgres")
def test_on_conflict_update_is_refused_on_postgres(logged: tuple[Store, list[str]]) -> None:
    store, ids = logged
    assert store.is_postgres
    statement = (
        "INSERT INTO consent_records SELECT * FROM consent_records WHERE id = :id "
        "ON CONFLICT (id) DO UPDATE SET mechanism = 'accept_all'"
    )
    with pytest.raises((StoreError, DBAPIError)), store.transaction() as session:
        session.execute(text(statement), {"id": ids[0]})
    assert ledger.verify(store).ok


def _legacy_record(store: Store, manifest: Manifest, device: str) -> str:
    """A record as Pledge wrote it before 0006: the device id in clear, no receipt digest."""
    signer = signer_for(Path(store.settings.data_dir))
    choice = records.NewChoice(f"device:{device}", "reject_all", "eu", "en", "visitor")
    row = records.new_row(choice, uuid7(), notice_ref(manifest))
    row.made_by = None
    claims = records.receipt_payload(manifest, row, "http://t")
    del claims["madeBy"], claims["onBehalf"]
    row.receipt = signer.sign(claims)
    with store.transaction() as session:
        session.add(row)
        session.flush()
        details = {"subject": row.subject, "mechanism": "reject_all"}
        audit.append(session, "visitor", "consent.recorded", "consent_record", row.id, details)
    with store.transaction() as session:
        set_limit_raw = "INSERT INTO processing_limits (subject, kind, purpose, active, "
        set_limit_raw += "request_id, recorded_at, actor) VALUES (:s, 'objection', NULL, "
        set_limit_raw += ":on, NULL, :t, 'system:dsr')"
        session.execute(text(set_limit_raw), {"s": row.subject, "on": True, "t": row.recorded_at})
    return row.id


def test_old_clear_device_ids_are_hashed_by_the_command(
    logged: tuple[Store, list[str]], manifest: Manifest
) -> None:
    store, _ = logged
    record_id = _legacy_record(store, manifest, "legacy-device-0001")
    assert ledger.verify(store).ok  # the old record verifies as it was written
    result = CliRunner().invoke(build(), ["consent", "hash-device-ids"])
    assert result.exit_code == 0, result.output
    assert "1 consent records and 1 processing limits rewritten" in result.output
    reference = of_device(store.vault, "legacy-device-0001")
    with store.reader() as session:
        (row,) = records.records_of(session, reference)
        limits = session.execute(text("SELECT subject FROM processing_limits")).scalars().all()
        clear = session.execute(
            text("SELECT count(*) FROM consent_records WHERE subject LIKE '%legacy-device%'")
        ).scalar_one()
    assert row.id == record_id and clear == 0 and limits == [reference]
    claims = receipts.verify(row.receipt, ledger.published_keys(Path(store.settings.data_dir)))
    assert claims is not None and claims["sub"] == reference and "reissued" in claims
    assert ledger.verify(store).ok
    again = CliRunner().invoke(build(), ["consent", "hash-device-ids"])
    assert "0 consent records and 0 processing limits rewritten" in again.output
    # the triggers are back
    with pytest.raises((StoreError, DBAPIError)), store.transaction() as session:
        session.execute(text("UPDATE consent_records SET mechanism = 'accept_all'"))
    with pytest.raises((StoreError, DBAPIError)), store.transaction() as session:
        session.execute(text("UPDATE processing_limits SET active = false"))
