"""Rectification: corrections {category or field: new value} applied to the fields holding them.

A correction key names a data category or one field (`<collection id>.<field>` or
`<collection>.<field>`); keys, primary keys and `read_only` fields are never corrected.
Every value is checked against its column before anything changes (one `PlanError` naming the
field, never the value). The person's own rows get every matching field; a shared row only the
fields that hold one of the person's identifiers, and so do identifier fields (e-mail …) of
their own rows. Values never appear in messages or logs.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from pledge.connectors.base import ColumnInfo, coerce
from pledge.manifest.datasets import DatasetField
from pledge.manifest.graph import PlanError
from pledge.requests.engine.plan import Bound, Plan, nkey
from pledge.requests.engine.traversal import Found
from pledge.requests.masking import Fingerprints
from pledge.requests.report import CollectionRectification


def correction_fields(
    plan: Plan, corrections: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], tuple[str, ...]]:
    """Per collection, {field: new value} for every correction key; PlanError if one won't fit."""
    out: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    issues: list[str] = []
    for b in plan.ordered():
        for fld in b.node.fields:
            key = _correction_key(b, fld, corrections)
            if key is None:
                continue
            used.add(key)
            column = b.info.columns[fld.name]
            value, issue = _fit(corrections[key], column)
            if issue:
                issues.append(f"{b.id}.{fld.name} (correction '{key}'): {issue}")
            else:
                out.setdefault(b.id, {})[fld.name] = value
    if issues:
        raise PlanError("the corrections cannot be applied; nothing was changed", issues)
    return out, tuple(k for k in corrections if k not in used)


def apply_corrections(
    plan: Plan,
    fields: Mapping[str, Mapping[str, Any]],
    identities: Mapping[str, Sequence[Any]],
    found: Mapping[str, Found],
) -> list[CollectionRectification]:
    """Apply `correction_fields` to the rows found (tracked), one transaction per collection."""
    prints = Fingerprints(secrets.token_bytes(16))
    # Only the identifiers the person gave: another address found in their rows (a work
    # e-mail) is not the one they asked to correct.
    identifying = {prints.loose(v) for values in identities.values() for v in values}
    strict = _identifier_categories(plan)
    out = []
    for key, changes in fields.items():
        b = plan.bound[key]
        exact = {f.name for f in b.node.fields if strict & set(f.data_categories or ())}
        rows, count = _rectify(b, found[key], changes, exact, prints, identifying)
        out.append(
            CollectionRectification(
                b.node.system, b.node.dataset, b.node.name, rows, count, tuple(changes)
            )
        )
    return out


def _correction_key(b: Bound, fld: DatasetField, corrections: Mapping[str, Any]) -> str | None:
    if fld.meta.primary_key or fld.meta.read_only or fld.name in b.key:
        return None
    for key in (f"{b.id}.{fld.name}", f"{b.node.name}.{fld.name}"):
        if key in corrections:
            return key
    return next((c for c in fld.data_categories or () if c in corrections), None)


def _fit(value: Any, column: ColumnInfo) -> tuple[Any, str | None]:
    """The value as the column stores it, or why it cannot be stored (the value unnamed)."""
    if value is None:
        return None, None if column.nullable else f"column {column.name} is NOT NULL"
    coerced = coerce(column.kind, value)
    if coerced is None:
        return None, f"the corrected value is not a valid {column.kind} for column {column.name}"
    if column.length is not None and isinstance(coerced, str) and len(coerced) > column.length:
        return None, f"the corrected value is longer than the {column.length} characters allowed"
    return coerced, None


def _identifier_categories(plan: Plan) -> set[str]:
    """Categories of identity fields (e-mail …): such a field in another row may name someone
    else (the agent who answered a ticket), so it is corrected only where it holds the
    person's own identifier."""
    return {
        c
        for b in plan.ordered()
        for f in b.node.fields
        if f.meta.identity
        for c in f.data_categories or ()
    }


def _rectify(
    b: Bound,
    got: Found,
    changes: Mapping[str, Any],
    exact: set[str],
    prints: Fingerprints,
    identifying: set[str],
) -> tuple[int, int]:
    """Apply the corrections to one collection in one transaction: (rows, fields) changed.

    The person's own rows get every correction, except that fields in `exact` (identifier
    categories) change only where they hold one of the person's identifiers; shared rows
    change only there too.
    """
    own_of = {
        nkey(b.key_of(row)): bool(own) for row, own in zip(got.rows, got.own or (), strict=True)
    }
    if not own_of or not b.key:
        return 0, 0
    rows = fields = 0
    with b.connector.transaction() as tx:
        updates = []
        keys = [b.key_of(row) for row in got.rows]
        for row in tx.fetch(b.spec, b.key, keys, lock=True):
            own = own_of.get(nkey(b.key_of(row)), False)
            new = {}
            for name, value in changes.items():
                current = row[b.pos[name]]
                holds = current is not None and prints.loose(current) in identifying
                if current != value and (holds or (own and name not in exact)):
                    new[name] = value
            if new:
                updates.append((b.key_of(row), new))
                rows += 1
                fields += len(new)
        tx.update(b.table, b.key, updates)
    return rows, fields
