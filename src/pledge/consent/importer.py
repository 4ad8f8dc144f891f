"""Bulk import of consent records from another consent tool (mechanism `import`).

A company moving to Pledge brings the choices people made in its previous tool. Each row
becomes an ordinary record of the log, checked like any other choice (`records.validate`) and
signed with a receipt, that keeps when the person chose (`given_at`) and which system it came
from as evidence; the log's own time is the import's, so the log stays append-only and
time-ordered. Rows are appended in `given_at` order, and a row older than a choice the log
already holds for that subject is refused: an old choice must not override a newer one.

Nothing is written until every row has been checked: one bad row and nothing is imported,
unless `partial`, which imports the good rows and reports the bad. Each row has an import key
(its source and source id, or a keyed digest of its content), so a file imported twice adds
nothing. One audit event per import holds the counts and a digest of the receipts.
Reading the file formats is `pledge.consent.import_formats`'s.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pledge.consent import records, subjects
from pledge.consent.ids import uuid7, vault_subject
from pledge.consent.import_formats import (
    CHOICE_GROUPS,
    RawRow,
    read_file,
)
from pledge.consent.notice import notice_ref
from pledge.consent.receipts import signer_for
from pledge.consent.tables import ConsentImport, ConsentRecord
from pledge.errors import PledgeError
from pledge.manifest.model import Manifest
from pledge.store import audit
from pledge.store.db import Store
from pledge.store.errors import IdentityError
from pledge.store.tables import IDENTITY_KINDS, Subject, UTCDateTime, utcnow
from pledge.store.vault import Vault, normalise

MAX_ERRORS = 1_000
FUTURE_LEEWAY = timedelta(minutes=5)
#: Earlier times are placeholders a tool wrote for "unknown" (the Unix epoch), not evidence.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
IMPORTED = "consent.imported"
FIELDS = (
    "subject",
    "identity",
    "given_at",
    "notice_version",
    "jurisdiction",
    "language",
    "source",
    "source_id",
    "categories",
    "purposes",
)
_SUBJECT = re.compile(r"^(device|subject):[A-Za-z0-9_-]{8,64}$")
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_SOURCE_HINT = "the name of the system it came from: letters, digits and . _ : -"
_BATCH = 500  # ids per IN (…) query


class ImportConflict(PledgeError):
    """Another import wrote some of the same rows meanwhile; running it again is safe."""

    status = 409


# -- checking rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A row that fits the manifest; `identity` (kind, normalised value) is resolved on write."""

    line: int
    subject: str | None
    identity: tuple[str, str] | None
    given_at: datetime
    notice_version: str
    jurisdiction: str
    language: str
    source: str
    by_source_id: bool
    purposes: dict[str, bool]
    categories: dict[str, bool]
    import_key: str
    digest: str


@dataclass
class _Problems:
    """The problems of one row: where (line, JSON pointer) and why."""

    line: int
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, pointer: str, detail: str) -> None:
        self.items.append({"line": self.line, "pointer": pointer, "detail": detail})

    def add_new(self, found: Iterable[dict[str, str]]) -> None:
        """Add what another check found, unless that place was already reported."""
        seen = {i["pointer"] for i in self.items}
        for item in found:
            if item["pointer"] not in seen:
                self.add(item["pointer"], item["detail"])


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


class _Rules:
    """Checks rows against the manifest, the known notice versions and each other."""

    def __init__(
        self, manifest: Manifest, notice_versions: frozenset[str], key: bytes, now: datetime
    ) -> None:
        self.manifest = manifest
        self.notice_versions = notice_versions
        self.key = key
        self.now = now
        self.unknown_versions: dict[str, list[int]] = {}  # version -> lines naming it

    def check(self, raw: RawRow) -> tuple[Row | None, list[dict[str, Any]]]:
        problems = _Problems(raw.line)
        if raw.problem is not None:
            problems.add("", raw.problem)
        elif not isinstance(raw.data, dict):
            problems.add("", "a record is a JSON object")
        else:
            row = self._row(raw.line, raw.data, problems)
            if not problems.items:
                return row, []
        return None, problems.items

    def _row(self, line: int, data: dict[str, Any], problems: _Problems) -> Row | None:
        for name in data:
            if name not in FIELDS:
                problems.add(_pointer(name), f"unknown field; the fields are {', '.join(FIELDS)}")
        subject, identity = _subject(data, problems)
        given_at = self._given_at(data.get("given_at"), problems)
        notice = self._notice_version(data.get("notice_version"), problems)
        source = _text(data, "source", problems, pattern=_SOURCE, hint=_SOURCE_HINT)
        source_id = _text(data, "source_id", problems, required=False, limit=200)
        jurisdiction = _text(data, "jurisdiction", problems, limit=16)
        language = _text(data, "language", problems, limit=16)
        categories, purposes = (_choices(data, group, problems) for group in CHOICE_GROUPS)
        if not (purposes or categories or data.get("purposes") or data.get("categories")):
            problems.add("/categories", "a record names at least one category or purpose")
        choice = records.NewChoice(
            "", "import", jurisdiction, language, "", purposes=purposes, categories=categories
        )
        try:
            records.validate(self.manifest, choice)
        except records.ChoiceError as exc:
            problems.add_new(exc.errors)
        purposes, categories = records.normalise(self.manifest, choice)
        if not (purposes or categories or problems.items):
            problems.add("/categories", "strictly necessary is always on: nothing to import")
        if problems.items or given_at is None:
            return None
        content: list[Any] = [subject, identity, given_at.isoformat(), notice, jurisdiction]
        content.append(language)
        content += [source, source_id, sorted(purposes.items()), sorted(categories.items())]
        digest = self._mac("content", json.dumps(content, separators=(",", ":")))
        key = self._mac("source-id", f"{source}\x00{source_id}") if source_id else digest
        return Row(
            line=line,
            subject=subject,
            identity=identity,
            given_at=given_at,
            notice_version=notice,
            jurisdiction=jurisdiction,
            language=language,
            source=source,
            by_source_id=bool(source_id),
            purposes=purposes,
            categories=categories,
            import_key=key,
            digest=digest,
        )

    def _mac(self, label: str, text: str) -> str:
        message = f"pledge-consent-import/1\x00{label}\x00{text}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def _given_at(self, value: Any, problems: _Problems) -> datetime | None:
        example = "an RFC 3339 time such as 2024-05-01T12:00:00Z"
        if value is None or value == "":
            problems.add("/given_at", f"required: when the person chose, as {example}")
            return None
        try:
            moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            problems.add("/given_at", f"not {example}")
        elif moment.tzinfo is None:
            problems.add("/given_at", "needs a time zone offset (Z or +01:00)")
        elif moment > self.now + FUTURE_LEEWAY:
            problems.add("/given_at", "lies in the future")
        elif moment < EARLIEST:
            problems.add("/given_at", "before 1990: a placeholder (such as 1970-01-01), not a time")
        else:
            return moment.astimezone(UTC)
        return None

    def _notice_version(self, value: Any, problems: _Problems) -> str:
        """The version as given; one not declared nor current is looked up in the log later."""
        if not isinstance(value, str) or not value.strip() or len(value) > 64:
            problems.add("/notice_version", "required: the version of the notice shown (text)")
            return ""
        if value not in self.notice_versions:
            self.unknown_versions.setdefault(value, []).append(problems.line)
        return value


def _text(
    data: dict[str, Any],
    name: str,
    problems: _Problems,
    *,
    required: bool = True,
    limit: int = 100,
    pattern: re.Pattern[str] | None = None,
    hint: str = "",
) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            problems.add(_pointer(name), "required")
        return ""
    if not isinstance(value, str) or len(value) > limit:
        problems.add(_pointer(name), f"text of at most {limit} characters")
        return ""
    if pattern is not None and not pattern.match(value):
        problems.add(_pointer(name), hint)
        return ""
    return value


def _subject(
    data: dict[str, Any], problems: _Problems
) -> tuple[str | None, tuple[str, str] | None]:
    """`device:…`/`subject:…` as given (a bare id is a device id), or an identity to look up."""
    subject, identity = data.get("subject"), data.get("identity")
    if (subject is None) == (identity is None):
        problems.add("/subject", "give either subject (device:… or subject:…) or identity")
        return None, None
    if subject is not None:
        key = f"device:{subject}" if isinstance(subject, str) and ":" not in subject else subject
        if not isinstance(key, str) or not _SUBJECT.match(key):
            problems.add("/subject", "device:<id> or subject:<vault id> (8–64 of A-Z a-z 0-9 _ -)")
            return None, None
        return key, None
    if not isinstance(identity, dict) or set(identity) != {"kind", "value"}:
        problems.add("/identity", "an object {kind, value}")
        return None, None
    kind, value = identity["kind"], identity["value"]
    if kind not in IDENTITY_KINDS:
        problems.add("/identity/kind", f"one of {', '.join(IDENTITY_KINDS)}")
        return None, None
    try:
        return None, (kind, normalise(kind, value))
    except IdentityError as exc:
        problems.add("/identity/value", str(exc))  # says what is wrong, never the value
        return None, None


def _choices(data: dict[str, Any], group: str, problems: _Problems) -> dict[str, bool]:
    value = data.get(group, {})
    if not isinstance(value, dict):
        problems.add(_pointer(group), "an object of id: true/false")
        return {}
    chosen = {}
    for key, item in value.items():
        if isinstance(item, bool):
            chosen[key] = item
        else:
            problems.add(_pointer(group, key), "true or false")
    return chosen


# -- checking against the log -------------------------------------------------------------------


@dataclass(frozen=True)
class _Existing:
    digest: str
    record_id: str
    subject: str
    receipt: str


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def _existing(session: Session, keys: Sequence[str]) -> dict[str, _Existing]:
    """Rows imported before, by import key."""
    found: dict[str, _Existing] = {}
    for part in _chunks(keys):
        query = (
            select(
                ConsentImport.import_key,
                ConsentImport.content_digest,
                ConsentRecord.id,
                ConsentRecord.subject,
                ConsentRecord.receipt,
            )
            .join(ConsentRecord, ConsentRecord.id == ConsentImport.record_id)
            .where(ConsentImport.import_key.in_(part))
        )
        for key, *rest in session.execute(query):
            found[key] = _Existing(*rest)
    return found


def _subjects(
    session: Session, vault: Vault, rows: Sequence[Row]
) -> tuple[dict[int, str | None], list[dict[str, Any]]]:
    """Each row's subject key (None: an identity the vault does not know yet), or why not."""
    ids = sorted({r.subject[8:] for r in rows if r.subject and r.subject.startswith("subject:")})
    states: dict[str, datetime | None] = {}
    for part in _chunks(ids):
        query = select(Subject.id, Subject.shredded_at).where(Subject.id.in_(part))
        states.update({sid: shredded for sid, shredded in session.execute(query)})
    found: dict[int, str | None] = {}
    problems: list[dict[str, Any]] = []
    known: dict[tuple[str, str], str | None] = {}
    for row in rows:
        if row.identity is not None:
            if row.identity not in known:
                sid = vault.find_subject(session, *row.identity)
                known[row.identity] = vault_subject(sid) if sid else None
            found[row.line] = known[row.identity]
        elif row.subject and row.subject.startswith("subject:") and row.subject[8:] not in states:
            problems.append(_problem(row.line, "/subject", "no such subject in the vault"))
        elif row.subject and row.subject.startswith("subject:") and states[row.subject[8:]]:
            problems.append(_problem(row.line, "/subject", "this subject was erased"))
        elif row.subject:
            found[row.line] = subjects.reference(vault, row.subject)  # a device id is hashed
    return found, problems


def _latest(session: Session, subjects: Sequence[str]) -> dict[str, datetime]:
    """When each subject's newest choice in the log was made (imported: its `given_at`)."""
    made = func.coalesce(ConsentImport.given_at, ConsentRecord.recorded_at)
    found: dict[str, datetime] = {}
    for part in _chunks(subjects):
        query = (
            select(ConsentRecord.subject, func.max(made, type_=UTCDateTime()))
            .outerjoin(ConsentImport, ConsentImport.record_id == ConsentRecord.id)
            .where(ConsentRecord.subject.in_(part))
            .group_by(ConsentRecord.subject)
        )
        found.update({subject: when for subject, when in session.execute(query)})
    return found


def _problem(line: int, pointer: str, detail: str) -> dict[str, Any]:
    return {"line": line, "pointer": pointer, "detail": detail}


@dataclass
class _Plan:
    """What the log says about the checked rows: new ones, ones imported before, problems."""

    fresh: list[Row] = field(default_factory=list)
    already: list[tuple[Row, _Existing]] = field(default_factory=list)
    subjects: dict[int, str | None] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)


def _plan(session: Session, vault: Vault, rows: Sequence[Row]) -> _Plan:
    plan = _Plan()
    existing = _existing(session, [r.import_key for r in rows])
    candidates = []
    for row in rows:
        before = existing.get(row.import_key)
        if before is None:
            candidates.append(row)
        elif before.digest == row.digest:
            plan.already.append((row, before))
        else:
            plan.problems.append(
                _problem(
                    row.line,
                    "/source_id",
                    f"imported before as record {before.record_id} with different content; "
                    "a correction is a new record with its own source_id",
                )
            )
    plan.subjects, problems = _subjects(session, vault, candidates)
    plan.problems += problems
    latest = _latest(session, sorted({s for s in plan.subjects.values() if s}))
    for row in candidates:
        if row.line not in plan.subjects:
            continue
        newer = latest.get(plan.subjects[row.line] or "")
        if newer is not None and newer > row.given_at:
            when = newer.strftime("%Y-%m-%dT%H:%M:%SZ")
            detail = f"the log holds a newer choice of this subject (made {when})"
            plan.problems.append(_problem(row.line, "/given_at", detail))
        else:
            plan.fresh.append(row)
    return plan


# -- importing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    """How to import: `partial` keeps the good rows of a file with bad ones; `dry_run`
    checks everything and writes nothing. `notice_versions` are the source tool's notice
    versions the rows may name (besides those the log and the manifest know)."""

    actor: str
    issuer: str
    format: str = "ndjson"
    partial: bool = False
    dry_run: bool = False
    notice_versions: frozenset[str] = frozenset()


@dataclass
class ImportResult:
    """The outcome, per line: what was imported (with its receipt), skipped, or refused."""

    batch: str
    options: ImportOptions
    rows: int
    records: list[dict[str, Any]]
    errors: list[dict[str, Any]]

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.records)

    @property
    def rejected(self) -> int:
        return len({e["line"] for e in self.errors})

    @property
    def refused(self) -> bool:
        """True when nothing was imported because a row was bad (and not `partial`)."""
        return bool(self.errors) and not self.options.partial

    def summary(self, max_errors: int = MAX_ERRORS) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "format": self.options.format,
            "dry_run": self.options.dry_run,
            "partial": self.options.partial,
            "rows": self.rows,
            "imported": self.count("imported"),
            "already_imported": self.count("already_imported"),
            "rejected": self.rejected,
            "records": self.records,
            "errors": self.errors[:max_errors],
            "errors_not_shown": max(0, len(self.errors) - max_errors),
        }


def import_rows(
    store: Store, manifest: Manifest, rows: Iterable[RawRow], options: ImportOptions
) -> ImportResult:
    """Check every row, then (all good, or `partial`) append the good ones in one transaction.

    `rows` is read once, as it comes (only the checked rows are kept). Raises ImportFileError
    when the file cannot be read, ImportConflict when a concurrent import of the same rows
    won the race; in both cases nothing was written.
    """
    vault = store.vault  # opened outside the transaction (SQLite's one writer stays free)
    known = options.notice_versions | {notice_ref(manifest)[1]}
    rules = _Rules(manifest, known, vault.derive_key("consent-import"), datetime.now(UTC))
    good, errors, total = _check_all(rules, rows)
    batch = uuid7()
    opened = store.reader if options.dry_run else store.transaction
    try:
        with opened() as session:
            good = _with_known_versions(session, rules, good, errors)
            plan = _plan(session, vault, good)
            errors = sorted(errors + plan.problems, key=lambda e: int(e["line"]))
            result = ImportResult(batch, options, total, [], errors)
            if result.refused:
                return result
            result.records = _already(plan) + _write(session, store, manifest, plan, result)
    except IntegrityError as exc:
        raise ImportConflict(
            "another import wrote some of these rows at the same time; nothing was imported — "
            "run it again (rows imported already are skipped)"
        ) from exc
    result.records.sort(key=lambda r: int(r["line"]))
    return result


def import_file(
    store: Store, manifest: Manifest, path: Path, options: ImportOptions
) -> ImportResult:
    """`import_rows` over a file, read in chunks."""
    return import_rows(store, manifest, read_file(path, options.format), options)


def _with_known_versions(
    session: Session, rules: _Rules, good: list[Row], errors: list[dict[str, Any]]
) -> list[Row]:
    """Refuse the rows naming a notice version neither current, declared nor in the log."""
    asked = sorted(rules.unknown_versions)
    logged: set[str] = set()
    for part in _chunks(asked):
        query = select(ConsentRecord.notice_version).where(ConsentRecord.notice_version.in_(part))
        logged.update(session.scalars(query.distinct()))
    declared = ", ".join(sorted(rules.notice_versions)[:10])
    refused: set[int] = set()
    for version in asked:
        if version in logged:
            continue
        detail = (
            f"unknown notice version: not in the log, nor current or declared ({declared}); "
            "declare the versions of the tool you import from (notice_version=… / "
            "--notice-version)"
        )
        errors += [
            _problem(line, "/notice_version", detail) for line in rules.unknown_versions[version]
        ]
        refused.update(rules.unknown_versions[version])
    return [r for r in good if r.line not in refused]


def _check_all(
    rules: _Rules, rows: Iterable[RawRow]
) -> tuple[list[Row], list[dict[str, Any]], int]:
    """The rows that pass every check, the problems of the others (duplicates too), the count."""
    good: list[Row] = []
    errors: list[dict[str, Any]] = []
    first: dict[str, int] = {}
    total = 0
    for raw in rows:
        total += 1
        row, problems = rules.check(raw)
        errors += problems
        if row is None:
            continue
        seen = first.setdefault(row.import_key, row.line)
        if seen != row.line:
            same = "source and source_id" if row.by_source_id else "content"
            errors.append(_problem(row.line, "", f"duplicates line {seen} (same {same})"))
        else:
            good.append(row)
    return good, errors, total


def _already(plan: _Plan) -> list[dict[str, Any]]:
    return [
        {
            "line": row.line,
            "status": "already_imported",
            "id": before.record_id,
            "subject": before.subject,
            "receipt": before.receipt,
        }
        for row, before in plan.already
    ]


def _write(
    session: Session, store: Store, manifest: Manifest, plan: _Plan, result: ImportResult
) -> list[dict[str, Any]]:
    """Append the new rows, oldest choice first, with receipts; audit the import once."""
    options = result.options
    if options.dry_run:
        return [{"line": r.line, "status": "would_import"} for r in plan.fresh]
    signer = signer_for(Path(store.settings.data_dir))
    notice_id = notice_ref(manifest)[0]
    subjects = _create_subjects(session, store.vault, plan, options.actor)
    done: list[dict[str, Any]] = []
    pending: list[tuple[dict[str, Any], dict[str, Any]]] = []
    oldest_first = sorted(plan.fresh, key=lambda r: (r.given_at, r.line))
    ids = sorted(uuid7() for _ in oldest_first)  # sorted: uuid7() may step back within 1 ms
    for row, record_id in zip(oldest_first, ids, strict=True):
        record = _record(row, record_id, subjects[row.line], notice_id, options.actor)
        payload = records.receipt_payload(manifest, record, options.issuer)
        payload["consentTimestamp"] = int(row.given_at.timestamp())
        given = row.given_at.isoformat().replace("+00:00", "Z")
        payload["import"] = {"batch": result.batch, "source": row.source, "givenAt": given}
        record.receipt = signer.sign(payload)
        pending.append((_columns(record), _import_row(row, record.id, result.batch)))
        done.append(_written(row.line, record))
        if len(pending) == _BATCH:
            _insert(session, pending)
            pending = []
    _insert(session, pending)
    if done:
        _audit(session, result, plan, done)
    return done


def _insert(session: Session, pending: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Bulk-insert records, then the import rows that point at them."""
    if pending:
        session.execute(insert(ConsentRecord), [record for record, _ in pending])
        session.execute(insert(ConsentImport), [imported for _, imported in pending])


def _import_row(row: Row, record_id: str, batch: str) -> dict[str, Any]:
    return {
        "import_key": row.import_key,
        "content_digest": row.digest,
        "record_id": record_id,
        "batch": batch,
        "source": row.source,
        "given_at": row.given_at,
        "imported_at": utcnow(),
    }


def _columns(record: ConsentRecord) -> dict[str, Any]:
    """A transient record's values, for a bulk insert."""
    return {c.key: getattr(record, c.key) for c in ConsentRecord.__table__.columns}


def _written(line: int, record: ConsentRecord) -> dict[str, Any]:
    return {
        "line": line,
        "status": "imported",
        "id": record.id,
        "subject": record.subject,
        "receipt": record.receipt,
    }


def _create_subjects(session: Session, vault: Vault, plan: _Plan, actor: str) -> dict[int, str]:
    """Every row's subject key, creating vault subjects for identities it does not know yet."""
    subjects: dict[int, str] = {}
    created: dict[tuple[str, str], str] = {}
    for row in plan.fresh:
        known = plan.subjects[row.line]
        if known is None:
            assert row.identity is not None
            if row.identity not in created:
                sid = vault.find_or_create_subject(session, *row.identity, actor=actor)
                created[row.identity] = vault_subject(sid)
            known = created[row.identity]
        subjects[row.line] = known
    return subjects


def _record(row: Row, record_id: str, subject: str, notice_id: str, actor: str) -> ConsentRecord:
    choice = records.NewChoice(
        subject,
        "import",
        row.jurisdiction,
        row.language,
        actor,
        purposes=row.purposes,
        categories=row.categories,
        made_by=f"import:{row.source}",
    )
    return records.new_row(choice, record_id, (notice_id, row.notice_version))


def _audit(session: Session, result: ImportResult, plan: _Plan, done: list[dict[str, Any]]) -> None:
    """One event for the whole import: counts, and a digest binding it to its receipts."""
    ordered = sorted(done, key=lambda r: str(r["id"]))
    digest = hashlib.sha256()
    for number, written in enumerate(ordered):
        digest.update(b"\n" * (number > 0) + str(written["receipt"]).encode())
    details = {
        "format": result.options.format,
        "partial": result.options.partial,
        "rows": result.rows,
        "imported": len(done),
        "already_imported": len(plan.already),
        "rejected": result.rejected,
        "sources": sorted({r.source for r in plan.fresh}),
        "first_record": ordered[0]["id"],
        "last_record": ordered[-1]["id"],
        "receipts_sha256": digest.hexdigest(),
    }
    audit.append(session, result.options.actor, IMPORTED, "consent_import", result.batch, details)
