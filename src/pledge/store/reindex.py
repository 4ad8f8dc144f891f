"""Recompute stored blind indexes after the identity rules changed (`pledge keys reindex`).

Blind indexes are keyed hashes of the canonical form of each identity, so when the canonical
form changes (a new Pledge version normalising phone numbers to E.164, or another
`PLEDGE_PHONE_REGION`) the stored indexes no longer match what lookups compute. Each identity
is decrypted with its subject's key (so this needs the master key: it is not a migration,
which is frozen history and never holds keys), normalised again and re-indexed, in batches of
one transaction each. `pledge db upgrade` runs it when the stored format is not the current
one; running it again changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pledge.store import audit
from pledge.store.db import Store
from pledge.store.tables import Identity, Subject, VaultKey, utcnow
from pledge.store.vault import INDEX_FORMAT, INDEX_SECRET, index_format


@dataclass(frozen=True)
class ReindexReport:
    """Counts per outcome of `Vault.reindex_identity`, and the conflicting subjects."""

    old_format: str | None
    new_format: str
    outcomes: dict[str, int]
    conflicts: tuple[str, ...] = field(default=())
    """Subjects holding an identity another subject now holds too: merge them by hand."""

    @property
    def checked(self) -> int:
        return sum(self.outcomes.values())


def needs_reindex(store: Store) -> bool:
    """Whether stored indexes were computed with other rules than this version's.

    Reads the database only (no master key): a database without an index secret has no
    index yet, and its vault starts in the current format.
    """
    with store.reader() as session:
        rows = session.execute(select(VaultKey.name, VaultKey.key_id)).all()
    names = {name: key_id for name, key_id in rows}
    if INDEX_SECRET not in names:
        return False
    return names.get(INDEX_FORMAT) != index_format(store.settings.phone_region)


def reindex(store: Store, *, actor: str = "system", batch_size: int = 500) -> ReindexReport:
    """Re-index every identity of every subject not shredded; record it in the audit log."""
    vault = store.vault
    with store.reader() as session:
        old = vault.stored_index_format(session)
    outcomes: Counter[str] = Counter()
    conflicts: list[str] = []
    last = 0
    while True:
        with store.transaction() as session:
            rows = session.scalars(
                select(Identity)
                .join(Subject, Subject.id == Identity.subject_id)
                .where(Identity.id > last, Subject.wrapped_key.is_not(None))
                .order_by(Identity.id)
                .limit(batch_size)
            ).all()
            for row in rows:
                outcome = vault.reindex_identity(session, row)
                outcomes[outcome] += 1
                if outcome == "conflict":
                    conflicts.append(row.subject_id)
            if not rows:
                _record(session, vault.index_format)
                details = {"from": old, "to": vault.index_format, **dict(sorted(outcomes.items()))}
                audit.append(session, actor, "vault.reindexed", "vault", INDEX_FORMAT, details)
                break
            last = rows[-1].id
    return ReindexReport(old, vault.index_format, dict(outcomes), tuple(conflicts))


def _record(session: Session, fmt: str) -> None:
    row = session.get(VaultKey, INDEX_FORMAT, with_for_update=True)
    if row is None:
        session.add(VaultKey(name=INDEX_FORMAT, key_id=fmt, wrapped=b""))
    else:
        row.key_id = fmt
        row.updated_at = utcnow()
