"""The audit log: append-only, hash-chained, with signed checkpoints (DESIGN §2 rule 3).

Each event's hash is SHA-256 over a canonical encoding of all its columns — compact JSON with
sorted keys, ASCII only — including the previous event's hash. Editing, deleting, inserting or
reordering an event breaks the chain at that event. An emptied, cut or rewritten log is caught
against signed checkpoints: those stored in the database (the first event, every
`checkpoint_every`-th, and once a minute by the `audit.checkpoint` job when there are new
events) and, above all, the newest one published outside the database as the *external head*
(`audit_head.py`), which `verify` requires the log to contain. `append` runs inside the
caller's transaction, so an event exists if and only if the change it records was committed.

Events never hold raw personal data: identities go through `hash_identity`, and `append`
refuses values that look like e-mail addresses.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from pledge.store.audit_head import publish, read_head
from pledge.store.db import Store, store_of
from pledge.store.errors import PersonalDataError, QueryError
from pledge.store.signing import Checkpoint, Signer
from pledge.store.tables import AuditCheckpoint, AuditEvent, table

GENESIS = "0" * 64
#: PostgreSQL advisory lock serialising appenders (the chain has one head).
CHAIN_LOCK = 0x706C6564_6765_02
MAX_PAGE = 1000
_LIMITS = {"actor": 200, "action": 100, "object_type": 50, "object_id": 200}
_EMAIL = re.compile(r"[^@\s\"'<>()]+@[^@\s\"'<>()]+\.[a-z]{2,}", re.IGNORECASE)
_RECORD = (
    '{"action":%s,"actor":%s,"details":%s,"object_id":%s,"object_type":%s,'
    '"occurred_at":%s,"prev_hash":%s,"seq":%d}'
)
# Built once: constructing statements per call costs more than running them.
_LOCK_CHAIN = text("SELECT pg_advisory_xact_lock(:k)")
_HEAD = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
_INSERT = table(AuditEvent).insert()
_SELECT = (
    "SELECT seq, occurred_at, actor, action, object_type, object_id, details, prev_hash, hash "
    "FROM audit_events"
)


def canonical_time(moment: datetime) -> str:
    """Fixed-width UTC text, so it sorts and hashes the same on every database."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, Any]) -> str:
    """The stored (and hashed) text of an event's details."""
    try:
        return json.dumps(
            details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details must be plain JSON ({exc})") from exc


def canonical_record(
    seq: int,
    occurred_at: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None,
    details: str,
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is taken over: every column but `hash`, as canonical JSON.

    This is the reference definition (auditors can re-implement it from this function);
    `_record_fast` produces the same bytes faster and a test holds them equal.
    """
    record = {
        "seq": seq,
        "occurred_at": occurred_at,
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _record_fast(
    seq: int,
    occurred_at: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None,
    details: str,
    prev_hash: str,
) -> bytes:
    oid = "null" if object_id is None else _quote(object_id)
    return (
        _RECORD
        % (
            _quote(action),
            _quote(actor),
            _quote(details),
            oid,
            _quote(object_type),
            _quote(occurred_at),
            _quote(prev_hash),
            seq,
        )
    ).encode()


@dataclass(frozen=True)
class Event:
    """An audit event as read back (details parsed)."""

    seq: int
    occurred_at: str
    actor: str
    action: str
    object_type: str
    object_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_row(cls, row: Iterable[Any]) -> Event:
        seq, at, actor, action, otype, oid, details, prev_hash, hash_ = row
        return cls(seq, at, actor, action, otype, oid, json.loads(details), prev_hash, hash_)


# -- writing ------------------------------------------------------------------------------


def hash_identity(session: Session, kind: str, value: str) -> str:
    """A keyed hash of an identity, for audit details (e.g. `{"email": hash_identity(…)}`)."""
    return store_of(session).vault.hash_identity(kind, value)


def append(
    session: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None,
    details: Mapping[str, Any] | None = None,
) -> Event:
    """Append one event inside the caller's transaction and return it.

    On PostgreSQL a transaction-scoped advisory lock makes appenders take turns on the chain
    head until they commit; SQLite has one writer at a time already. The first and every
    `checkpoint_every`-th event get a signed checkpoint in the same transaction, published as
    the external head once it commits (so a log is never without one).
    """
    fields = {"actor": actor, "action": action, "object_type": object_type, "object_id": object_id}
    _check_fields(fields)
    details_text = canonical_details(details or {})
    _refuse_personal_data(details or {}, "details")
    store = store_of(session)
    conn = session.connection()
    if store.is_postgres:
        conn.execute(_LOCK_CHAIN, {"k": CHAIN_LOCK})
    head = conn.execute(_HEAD).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
    at = canonical_time(datetime.now(UTC))
    record = _record_fast(seq, at, actor, action, object_type, object_id, details_text, prev_hash)
    digest = hashlib.sha256(record).hexdigest()
    conn.execute(
        _INSERT,
        {
            "seq": seq,
            "occurred_at": at,
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details_text,
            "prev_hash": prev_hash,
            "hash": digest,
        },
    )
    if seq == 1 or seq % store.settings.checkpoint_every == 0:
        _write_checkpoint(session, store.signer, seq, digest)
    shown = dict(details or {})
    return Event(seq, at, actor, action, object_type, object_id, shown, prev_hash, digest)


def _check_fields(fields: Mapping[str, str | None]) -> None:
    for name, value in fields.items():
        if value is None and name == "object_id":
            continue
        if not isinstance(value, str) or not value or len(value) > _LIMITS[name]:
            raise ValueError(f"audit {name} must be text of 1 to {_LIMITS[name]} characters")
        _refuse_personal_data(value, name)


def _refuse_personal_data(value: Any, where: str) -> None:
    """Catch the commonest leak (an e-mail address) before it is chained in forever."""
    if isinstance(value, str):
        if _EMAIL.search(value):
            raise PersonalDataError(
                f"audit {where} holds what looks like an e-mail address; audit events must "
                "not hold raw personal data — use hash_identity()"
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_personal_data(key, where)
            _refuse_personal_data(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_personal_data(item, where)


# -- checkpoints --------------------------------------------------------------------------


def _write_checkpoint(session: Session, signer: Signer, seq: int, hash_: str) -> Checkpoint:
    cp = signer.sign(seq, hash_, canonical_time(datetime.now(UTC)))
    session.add(
        AuditCheckpoint(
            seq=cp.seq,
            hash=cp.hash,
            created_at=cp.time,
            key_id=cp.key_id,
            public_key=cp.public_key,
            signature=cp.signature,
        )
    )
    session.flush()
    publish_after_commit(session, cp)
    return cp


_PENDING_HEAD = "pledge_audit_head"


def publish_after_commit(session: Session, cp: Checkpoint) -> None:
    """Publish `cp` as the external head once `session` commits (never before: a head must
    only name events that exist). The latest of several in one transaction wins."""
    pending = session.info.get(_PENDING_HEAD)
    if not event.contains(session, "after_commit", _publish_pending):
        event.listen(session, "after_commit", _publish_pending)
    if pending is None or cp.seq >= pending.seq:
        session.info[_PENDING_HEAD] = cp


def _publish_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: the transaction has not committed yet
    cp = session.info.pop(_PENDING_HEAD, None)
    if cp is not None:
        publish(store_of(session), cp)


def _from_row(row: AuditCheckpoint) -> Checkpoint:
    return Checkpoint(row.seq, row.hash, row.created_at, row.key_id, row.public_key, row.signature)


def checkpoint(store: Store) -> Checkpoint:
    """Sign the current head of the chain now (or return the checkpoint it already has).

    The checkpoint is also published as the external head.
    """
    with store.transaction() as session:
        cp = sign_head(session)
    publish(store, cp)
    return cp


def sign_head(session: Session) -> Checkpoint:
    """The checkpoint of the chain's current head, written now unless it exists already.

    Publishes it as the external head after the commit either way, so an installation whose
    head file is missing or behind (a new host, an upgrade) gets one. The `audit.checkpoint`
    job calls this once a minute: a checkpoint on a time, not only on a count.
    """
    store = store_of(session)
    if store.is_postgres:
        session.execute(_LOCK_CHAIN, {"k": CHAIN_LOCK})
    seq, hash_ = head(session)
    existing = session.get(AuditCheckpoint, seq)
    if existing is None:
        return _write_checkpoint(session, store.signer, seq, hash_)
    cp = _from_row(existing)
    publish_after_commit(session, cp)
    return cp


def head(session: Session) -> tuple[int, str]:
    """The newest event's (seq, hash), or (0, GENESIS) for an empty log."""
    row = session.execute(_HEAD).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def stored_checkpoints(session: Session) -> list[Checkpoint]:
    rows = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
    return [_from_row(row) for row in rows]


# -- verifying ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """What `verify` found: ok, or the first bad sequence number (0: the log as a whole) and why."""

    ok: bool
    events: int
    last_seq: int
    last_hash: str
    checkpoints: int
    first_bad_seq: int | None = None
    reason: str = ""
    head_seq: int | None = None  # the external head's seq, when there is one

    def summary(self) -> str:
        if self.ok:
            text = (
                f"ok: {self.events} events, chain head seq {self.last_seq} hash "
                f"{self.last_hash[:16]}…, {self.checkpoints} checkpoint(s) matched"
            )
            if self.head_seq is not None:
                text += f", external head at seq {self.head_seq}"
            return text
        if self.first_bad_seq == 0:
            return self.reason
        return f"seq {self.first_bad_seq}: {self.reason}"


@dataclass(frozen=True)
class _Anchor:
    """A signed (seq, hash) the log must contain, and how to name it in a reason."""

    cp: Checkpoint
    what: str
    explicit: bool = False


@dataclass
class _Walk:
    """State of one pass over the chain."""

    expected: int = 1
    prev: str = GENESIS
    count: int = 0
    bad_seq: int | None = None
    reason: str = ""

    def fail(self, seq: int, reason: str) -> None:
        self.bad_seq, self.reason = seq, reason


def verify(
    store: Store, checkpoint: Checkpoint | None = None, *, batch: int = 20_000
) -> VerifyResult:
    """Walk the whole chain in seq order; check it against every signed checkpoint known.

    Those are the stored checkpoints, the external head (required once the log has events:
    without it nothing outside the database says how long the log was) and `checkpoint`, one
    kept elsewhere. Streams raw rows (a server-side cursor on PostgreSQL) and hashes pre-built
    bytes, so a million events verify in seconds. Stops at the first bad event.
    """
    trusted = Signer.load(store.settings.audit_key_path)
    head_path = store.settings.audit_head_path
    external = read_head(head_path)
    with store.reader() as session:
        anchors = [
            _Anchor(cp, f"the checkpoint signed at {cp.time}") for cp in stored_checkpoints(session)
        ]
        if external is not None:
            anchors.append(
                _Anchor(external, f"the external head ({head_path}) signed at {external.time}")
            )
        if checkpoint is not None:
            anchors.append(
                _Anchor(checkpoint, f"the given checkpoint signed at {checkpoint.time}", True)
            )
        failures = _bad_anchors(anchors, trusted)
        good = _expected_hashes([a for a in anchors if a.cp.seq not in failures], failures)
        walk = _walk_chain(session, good, batch)
    if walk.bad_seq is None:
        _check_tail(walk, good)
    if walk.bad_seq is None and external is None and walk.expected > 1:
        walk.fail(0, _no_head(head_path))
    if walk.bad_seq is not None:
        failures[walk.bad_seq] = failures.get(walk.bad_seq, walk.reason)
    last_seq = walk.expected - 1
    head_seq = None if external is None else external.seq
    matched = len({seq for seq in good if seq <= last_seq})
    if failures:
        seq = min(failures)
        return VerifyResult(
            False, walk.count, last_seq, walk.prev, matched, seq, failures[seq], head_seq
        )
    return VerifyResult(True, walk.count, last_seq, walk.prev, matched, head_seq=head_seq)


def _no_head(path: Path) -> str:
    return (
        f"there is no external head at {path}: nothing outside the database shows how long "
        "the log was, so it cannot be proved whole. Pledge writes it with the first event, "
        "every checkpoint and once a minute (a worker's audit.checkpoint job); after an "
        "upgrade, or on a new host, run `pledge audit checkpoint` once"
    )


def _bad_anchors(anchors: list[_Anchor], trusted: Signer | None) -> dict[int, str]:
    bad: dict[int, str] = {}
    for anchor in anchors:
        cp = anchor.cp
        if not cp.signature_valid():
            bad[cp.seq] = f"the signature of {anchor.what} does not verify: it was altered"
        elif trusted is None and not anchor.explicit:
            bad[cp.seq] = f"no audit signing key to check {anchor.what} against"
        elif trusted is not None and cp.key_id != trusted.key_id:
            bad[cp.seq] = (
                f"{anchor.what} is signed by key {cp.key_id}, not by this installation's "
                f"audit key {trusted.key_id}"
            )
    return bad


def _expected_hashes(anchors: list[_Anchor], failures: dict[int, str]) -> dict[int, _Anchor]:
    """Anchors by seq; two signed anchors that disagree about one seq are a failure there."""
    found: dict[int, _Anchor] = {}
    for anchor in anchors:
        seq = anchor.cp.seq
        if seq in found and found[seq].cp.hash != anchor.cp.hash:
            failures[seq] = f"{found[seq].what} and {anchor.what} disagree about this event"
        found.setdefault(seq, anchor)
    return found


def _walk_chain(session: Session, anchors: Mapping[int, _Anchor], batch: int) -> _Walk:
    walk = _Walk()
    for rows in _stream(session, batch):
        walk.expected, walk.prev, failure = _check_rows(rows, walk.expected, walk.prev, anchors)
        if failure is not None:
            walk.fail(*failure)
            break
    walk.count = walk.expected - 1
    return walk


def _check_rows(
    rows: Iterable[Any], expected: int, prev: str, anchors: Mapping[int, _Anchor]
) -> tuple[int, str, tuple[int, str] | None]:
    """The hot loop: one batch of raw rows against the chain so far.

    Same bytes as `_record_fast`, inlined, with everything in locals: at a million rows
    per run, each attribute lookup shows.
    """
    sha256, quote, fmt = hashlib.sha256, _quote, _RECORD
    for seq, at, actor, action, otype, oid, details, prev_hash, hash_ in rows:
        if seq != expected:
            return expected, prev, (expected, f"event is missing (the next one is seq {seq})")
        if prev_hash != prev:
            reason = (
                f"the event does not follow seq {seq - 1} (prev_hash differs): an event was "
                "inserted, deleted, reordered or rewritten here"
            )
            return expected, prev, (seq, reason)
        record = fmt % (
            quote(action),
            quote(actor),
            quote(details),
            "null" if oid is None else quote(oid),
            quote(otype),
            quote(at),
            quote(prev_hash),
            seq,
        )
        if hash_ != sha256(record.encode()).hexdigest():
            return (
                expected,
                prev,
                (seq, "the event's content does not match its hash: it was edited"),
            )
        if seq in anchors and anchors[seq].cp.hash != hash_:
            reason = f"the chain differs from {anchors[seq].what} (rewritten or rewound)"
            return expected, prev, (seq, reason)
        prev, expected = hash_, seq + 1
    return expected, prev, None


def _check_tail(walk: _Walk, anchors: Mapping[int, _Anchor]) -> None:
    last = walk.expected - 1
    beyond = [anchor for seq, anchor in anchors.items() if seq > last]
    if beyond:
        anchor = max(beyond, key=lambda a: a.cp.seq)
        if last == 0:
            walk.fail(
                1,
                f"the log is empty, but {anchor.what} covers seq {anchor.cp.seq} "
                "(the log was emptied)",
            )
            return
        walk.fail(
            last + 1,
            f"events {last + 1}–{anchor.cp.seq} are missing: the log ends at seq {last} but "
            f"{anchor.what} covers seq {anchor.cp.seq} (the tail was cut off)",
        )
    elif 0 in anchors and anchors[0].cp.hash != GENESIS:
        walk.fail(0, "the checkpoint at seq 0 does not hold the genesis hash")


def _stream(session: Session, batch: int, since: int = 0) -> Iterator[list[Any]]:
    """Raw row tuples in seq order, in batches, straight from the driver.

    No SQLAlchemy rows or ORM objects: on PostgreSQL a named (server-side) cursor, on SQLite
    the plain cursor, which already steps through the table lazily.
    """
    store = store_of(session)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    sql = f"{_SELECT} WHERE seq > {int(since)} ORDER BY seq"
    if store.is_postgres:
        cursor = driver.cursor(name=f"pledge_audit_{secrets.token_hex(4)}")
        cursor.itersize = batch
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch):
            yield rows
    finally:
        cursor.close()


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    """Filters for `list_events`; all optional, combined with AND."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    newest_first: bool = False


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    next_cursor: str | None


def list_events(
    session: Session,
    filters: EventFilter | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> EventPage:
    """One page of events; pass `next_cursor` back to get the next (keyset pagination)."""
    filters = filters or EventFilter()
    if not 1 <= limit <= MAX_PAGE:
        raise QueryError(f"limit must be between 1 and {MAX_PAGE}")
    t = table(AuditEvent).c
    query = select(
        t.seq,
        t.occurred_at,
        t.actor,
        t.action,
        t.object_type,
        t.object_id,
        t.details,
        t.prev_hash,
        t.hash,
    )
    for column, value in (
        (t.actor, filters.actor),
        (t.action, filters.action),
        (t.object_type, filters.object_type),
        (t.object_id, filters.object_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(t.occurred_at >= canonical_time(_aware(filters.since, "since")))
    if filters.until is not None:
        query = query.where(t.occurred_at < canonical_time(_aware(filters.until, "until")))
    after = _parse_cursor(cursor)
    if after is not None:
        query = query.where(t.seq < after if filters.newest_first else t.seq > after)
    order = t.seq.desc() if filters.newest_first else t.seq.asc()
    rows = session.execute(query.order_by(order).limit(limit + 1)).all()
    events = [Event.from_row(row) for row in rows[:limit]]
    more = len(rows) > limit
    return EventPage(events, str(events[-1].seq) if more and events else None)


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise QueryError(f"{name} needs a timezone (e.g. 2026-01-31T00:00:00Z)")
    return moment


def _parse_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 19 or int(cursor) >= 2**63:
        raise QueryError("cursor is not one this API returned; start again without it")
    return int(cursor)


def export(store: Store, out: TextIO, since: int = 0, *, batch: int = 5_000) -> int:
    """Write events after seq `since` as JSON Lines (details as objects); returns the count."""
    count = 0
    with store.reader() as session:
        for part in _stream(session, batch, since):
            for row in part:
                out.write(json.dumps(Event.from_row(row).as_dict(), ensure_ascii=False) + "\n")
                count += 1
    return count
