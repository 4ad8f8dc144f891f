"""Erasure: what `collect`, `erase:<collection>` and `verify` do (the engine runs the steps).

Erasure runs as steps a job can checkpoint (`plan.steps`, `Engine.run_step(step, state)`):

1. `collect` reads the graph and records, per collection, the rows to change: their keys, what
   to do, and digests of the values to mask. Of the person's own rows everything is erased; of
   a *shared* row (`traversal`) only the fields holding one of the person's identifiers are
   masked, and it is never deleted, nor is anything reached only through it.
2. `erase:<collection>`, children before parents (reflected foreign keys, references,
   `erase_after`): one transaction per collection that locks the rows, deletes or masks them,
   and masks instead of deleting a row that other rows still reference. A field is masked
   only while it still holds the value collected (its digest matches), and deleted rows stay
   deleted, so a step repeated after a crash finds nothing to do and changes nothing.
3. `verify` reads the graph again from the same identities and fetches every targeted row by
   key: the erasure is `completed` only when nothing targeted is left; otherwise `failed`, with
   the collections and fields where data remains.

What happens to a collection: rows are deleted when its `masking_strategy_override` is
`delete`, or when erasure would leave nothing but keys, references and NULLs (every other
field is personal and nulled); otherwise the personal fields are masked (`masking.py` says
with what) and `read_only` fields are kept and reported (a legal obligation or hold). A row to
delete that another row still references (a foreign key the store reports, or a dataset
reference) is masked instead, so no other person's row is broken and no cascade fires.

Known limits, by design: rows added later below a masked row are found by verification only
while some identity of the request still reaches them (give `customer_id` as well as the
e-mail address when retrying); an erasure started with another identity that still reaches
already masked rows masks their keyed hashes and random strings again (harmless: the values
stay unreadable, but it counts as a change).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pledge.connectors.base import Connector, Key, Row, Writer
from pledge.requests.engine.plan import Bound, Plan, RefCheck, Target, nkey
from pledge.requests.engine.traversal import Found, reader_for
from pledge.requests.masking import Fingerprints, normalise
from pledge.requests.report import CollectionErasure, ErasureState, TargetRow

log = logging.getLogger("pledge.requests")

ROW = "(row)"
"""Named in `left_fields` when a row that should be gone is still there."""


def _fingerprints(state: ErasureState) -> Fingerprints:
    """The erasure's fingerprints (keyed with the salt kept in its state)."""
    return Fingerprints(bytes.fromhex(state.salt))


# --- collect ---------------------------------------------------------------------------------


def collect(plan: Plan, found: Mapping[str, Found], state: ErasureState) -> None:
    """The `collect` step, given the tracked read: record per collection the rows to change."""
    prints = _fingerprints(state)
    identifying = _identifying(plan, found, state.identities, prints)
    state.identifying = sorted(identifying)
    state.targets = {}
    for b in plan.ordered():
        got = found[b.id]
        state.found[b.id] = sum(1 for own in got.own or () if own)
        if got.case_only:
            state.case_only[b.id] = got.case_only
        if b.action != "none":
            state.targets[b.id] = _targets(b, got, prints, identifying)
    log.info("erasure collected %d rows to change", sum(map(len, state.targets.values())))


def _identifying(
    plan: Plan,
    found: Mapping[str, Found],
    identities: Mapping[str, Sequence[Any]],
    prints: Fingerprints,
) -> set[str]:
    """Digests of the person's identifiers: the request's, and identity fields of own rows.

    What erasure writes (a keyed hash of the e-mail address, a fixed text) is left out: an
    own row erased before may hold it, and it must not make every erased row look like data
    that is still there.
    """
    raw: dict[str, Any] = {}
    for values in identities.values():
        raw.update((normalise(v), v) for v in values)
    for b in plan.ordered():
        got = found.get(b.id)
        if got is None or not b.identity_pos:
            continue
        for row, own in zip(got.rows, got.own or (), strict=False):
            if own:
                raw.update(
                    (normalise(row[p]), row[p]) for p in b.identity_pos if row[p] is not None
                )
    maskers = {
        (t.masker.strategy.name, repr(t.masker.strategy.configuration)): t.masker
        for b in plan.ordered()
        for t in b.targets
        if not t.masker.random and t.masker.strategy.name != "null_rewrite"
    }
    written = {
        normalise(out)
        for v in raw.values()
        for m in maskers.values()
        if (out := m.apply(v)) is not None and out != v
    }
    return {prints.loose(v) for n, v in raw.items() if n not in written}


def _targets(b: Bound, got: Found, prints: Fingerprints, identifying: set[str]) -> list[TargetRow]:
    """The rows of one collection erasure will change, with digests of the fields to mask."""
    out = []
    for row, own in zip(got.rows, got.own or (), strict=True):
        if own:
            fields = {t.name: prints.exact(row[t.pos]) for t in _needed(b, row)}
            if b.action == "delete" or fields:
                out.append(
                    TargetRow(b.key_of(row), "delete" if b.action == "delete" else "mask", fields)
                )
            continue
        fields = {t.name: prints.exact(row[t.pos]) for t in _holding(b, row, prints, identifying)}
        if fields:
            out.append(TargetRow(b.key_of(row), "shared", fields))
    return out


def _needed(b: Bound, row: Row) -> list[Target]:
    """The targets whose value in `row` masking would still change."""
    return [t for t in b.targets if t.masker.needed(row[t.pos])]


def _holding(b: Bound, row: Row, prints: Fingerprints, identifying: set[str]) -> list[Target]:
    """The targets that hold one of the person's identifiers in `row`, not masked yet."""
    return [
        t
        for t in b.targets
        if (v := row[t.pos]) is not None and prints.loose(v) in identifying and t.masker.needed(v)
    ]


# --- erase -----------------------------------------------------------------------------------


def erase_step(b: Bound, state: ErasureState) -> None:
    """One collection in one transaction; repeating it finds nothing to do (module doc)."""
    rows = (state.targets or {}).get(b.id, [])
    outcome = dict.fromkeys(
        ("rows_deleted", "rows_masked", "rows_shared", "rows_kept_referenced", "fields_changed"), 0
    )
    if rows:
        prints = _fingerprints(state)
        with b.connector.transaction() as tx:
            _erase_rows(b, rows, tx, prints, outcome)
    state.outcomes[b.id] = outcome
    log.info(
        "erased %s: %d deleted, %d masked, %d shared, %d kept (referenced)",
        b.id,
        outcome["rows_deleted"],
        outcome["rows_masked"],
        outcome["rows_shared"],
        outcome["rows_kept_referenced"],
    )


def _erase_rows(
    b: Bound, rows: list[TargetRow], tx: Writer, prints: Fingerprints, outcome: dict[str, int]
) -> None:
    current = {
        nkey(b.key_of(r)): r for r in tx.fetch(b.spec, b.key, [t.key for t in rows], lock=True)
    }
    doomed = [
        (t, current[nkey(t.key)]) for t in rows if t.mode == "delete" and nkey(t.key) in current
    ]
    kept = _still_referenced(b, doomed, tx)
    deletions: list[Key] = []
    changes: list[tuple[Key, dict[str, Any]]] = []
    for t in rows:
        k = nkey(t.key)
        row = current.get(k)
        if t.mode == "delete" and k not in kept:
            outcome["rows_deleted"] += 1
            if row is not None:
                deletions.append(b.key_of(row))
            continue
        if row is None:
            continue
        changes.append((b.key_of(row), _mask_row(b, t, row, prints)))
        outcome["fields_changed"] += len(t.fields)
        outcome["rows_shared" if t.mode == "shared" else "rows_masked"] += 1
        outcome["rows_kept_referenced"] += t.mode == "delete"
    tx.delete(b.table, b.key, deletions)
    tx.update(b.table, b.key, [c for c in changes if c[1]])


def _mask_row(b: Bound, t: TargetRow, row: Row, prints: Fingerprints) -> dict[str, Any]:
    """New values for the fields that still hold what was collected (others are done)."""
    out: dict[str, Any] = {}
    for name, digest in t.fields.items():
        target = b.target(name)
        value = row[target.pos]
        if value is not None and prints.exact(value) == digest:
            new = target.masker.apply(value)
            if new != value:
                out[name] = new
    return out


def _still_referenced(
    b: Bound, doomed: list[tuple[TargetRow, Row]], tx: Writer
) -> set[tuple[str, ...]]:
    """Keys of rows to delete that some other row still points at: they are masked instead."""
    kept: set[tuple[str, ...]] = set()
    if not doomed:
        return kept
    for check in b.referencing:
        by_value: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        values = []
        for t, row in doomed:
            value = tuple(row[p] for p in check.target_pos)
            if any(v is None for v in value):
                continue
            by_value.setdefault(nkey(value), []).append(nkey(t.key))
            values.append(value)
        if not values:
            continue
        exclude = (b.key, [b.key_of(row) for _, row in doomed]) if check.self_reference else None
        hits = _referenced(check, values, exclude, tx, b.connector)
        for hit in hits:
            kept.update(by_value.get(nkey(hit), ()))
    return kept


def _referenced(
    check: RefCheck,
    values: list[Key],
    exclude: tuple[tuple[str, ...], list[Key]] | None,
    tx: Writer,
    connector: Connector,
) -> set[Key]:
    with reader_for(check.connector, connector, tx) as reader:
        return reader.referenced(check.table, check.columns, values, exclude)


# --- verify ----------------------------------------------------------------------------------


def verify(plan: Plan, found: Mapping[str, Found], state: ErasureState) -> None:
    """The `verify` step, given the read again (targeted rows by key): what is left, if any."""
    prints = _fingerprints(state)
    identifying = set(state.identifying)
    left: dict[str, dict[str, Any]] = {}
    for b in plan.ordered():
        if b.action == "none":
            continue
        rows, fields = _left(
            b, found[b.id], (state.targets or {}).get(b.id, []), prints, identifying
        )
        if rows:
            left[b.id] = {"rows": rows, "fields": sorted(fields)}
            log.warning("erasure verification: %d rows left in %s", rows, b.id)
    state.left = left
    state.status = "failed" if left else "completed"


def _left(
    b: Bound, got: Found, targets: list[TargetRow], prints: Fingerprints, identifying: set[str]
) -> tuple[int, set[str]]:
    """How many rows still hold what erasure targeted, and in which fields."""
    by_key = {nkey(t.key): t for t in targets}
    rows: dict[tuple[str, ...], tuple[Row, bool | None]] = {
        nkey(b.key_of(row)): (row, own) for row, own in zip(got.rows, got.own or (), strict=True)
    }
    # Single-column keys were read by the traversal itself (`known`); a key it did not find
    # is gone. Composite keys are fetched here.
    missing = [t.key for k, t in by_key.items() if k not in rows] if len(b.key) > 1 else []
    if missing:
        with b.connector.session() as reader:
            for row in reader.fetch(b.spec, b.key, missing):
                rows.setdefault(nkey(b.key_of(row)), (row, None))
    count = 0
    fields: set[str] = set()
    for k, (row, own) in rows.items():
        left = _left_in_row(b, row, own, by_key.get(k), prints, identifying)
        if left:
            count += 1
            fields |= left
    return count, fields


def _left_in_row(
    b: Bound,
    row: Row,
    own: bool | None,
    target: TargetRow | None,
    prints: Fingerprints,
    identifying: set[str],
) -> set[str]:
    holding = {t.name for t in _holding(b, row, prints, identifying)}
    if target is None:
        if not own:
            return holding
        needed = {t.name for t in _needed(b, row)}
        if b.action == "delete" and (needed or not b.targets):
            return {ROW}
        return holding | needed
    unchanged = {
        name
        for name, digest in target.fields.items()
        if (v := row[b.target(name).pos]) is not None
        and prints.exact(v) == digest
        and b.target(name).masker.needed(v)
    }
    if target.mode == "delete" and not b.targets:
        unchanged.add(ROW)  # nothing to mask: the row itself (a link) is what must go
    return unchanged | holding


# --- report ----------------------------------------------------------------------------------


def collection_report(b: Bound, state: ErasureState) -> CollectionErasure:
    """One collection's part of the erasure report: counts and field names, never values."""
    outcome = state.outcomes.get(b.id, {})
    left = (state.left or {}).get(b.id, {})
    found = state.found.get(b.id, 0)
    verified = "verify" in state.done
    if left:
        status: Literal["pending", "erased", "nothing_found", "failed"] = "failed"
    elif not verified:
        status = "pending"
    else:
        status = "erased" if found or outcome.get("fields_changed") else "nothing_found"
    return CollectionErasure(
        b.node.system,
        b.node.dataset,
        b.node.name,
        b.action,
        rows_found=found,
        fields=tuple(t.name for t in b.targets),
        kept_fields=b.kept,
        left_rows=int(left.get("rows", 0)),
        left_fields=tuple(left.get("fields", ())),
        status=status,
        case_only_rows=state.case_only.get(b.id, 0),
        **outcome,
    )
