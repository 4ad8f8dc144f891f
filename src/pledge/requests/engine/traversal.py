"""Traversal: which rows each collection is read with, and whose they are.

Reading goes level by level, one set-based query per collection (`WHERE key IN (…)`, batched
by the connector); the engine reads the collections of a level in parallel on a small thread
pool. This module says what one collection is read with: the request's identities for its
seeds, the values its parents' rows point with, and (verification) the keys erasure changed.

When tracked, every row found is told *the person's own* from *shared*: a row is the person's
own when it was reached from an identity or from a row of the person's own through a row that
points at its parent; a row reached through a pointer that other rows share (an order reached
from the person's order-contact row, while another person's contact row points at it too) is
shared, unless counting the rows that point at it shows they are all the person's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pledge.connectors.base import Connector, Reader, Row
from pledge.identities import match_key
from pledge.requests.engine.plan import Bound, Inbound
from pledge.requests.masking import normalise
from pledge.requests.report import TargetRow


@dataclass(slots=True)
class Found:
    """Rows found in one collection and, when tracked, whether each is the person's own."""

    rows: list[Row]
    own: list[bool] | None = None
    case_only: int = 0
    """Rows found by an e-mail that differs from the person's only in letter case."""


@dataclass(slots=True)
class Inputs:
    """What one collection is read with: {column: values} and, tracked, whose each value is."""

    match: dict[str, list[Any]]
    flags: dict[str, dict[str, bool]] | None
    shared: list[tuple[Inbound, dict[str, int], dict[str, Any]]] = field(default_factory=list)
    fold: dict[str, set[str]] = field(default_factory=dict)
    """Columns matched regardless of letter case (e-mail seeds), with the values as given."""


def identity_values(identities: Mapping[str, Iterable[Any]]) -> dict[str, list[Any]]:
    """Identities as the traversal uses them: blanks dropped (e-mail seeds are read
    regardless of letter case by the connector, see `FOLDED`)."""
    out: dict[str, list[Any]] = {}
    for kind, values in identities.items():
        found: dict[Any, None] = {}
        for v in values:
            v = v.strip() if isinstance(v, str) else v
            if v is None or v == "":
                continue
            found[v] = None
        if found:
            out[kind] = list(found)
    return out


FOLDED = frozenset({"email"})
"""Identity kinds matched in the organisation's stores regardless of letter case."""


def inputs_for(
    b: Bound,
    found: Mapping[str, Found],
    identities: Mapping[str, Sequence[Any]],
    track: bool,
    known: Sequence[TargetRow] = (),
) -> Inputs:
    """The value lists a collection is read with, and (tracked) whose each value is."""
    match: dict[str, dict[Any, None]] = {}
    flags: dict[str, dict[str, bool]] | None = {} if track else None
    inputs = Inputs({}, flags)
    if known and len(b.key) == 1:
        match[b.key[0]] = dict.fromkeys(t.key[0] for t in known)
        if flags is not None:
            mine = flags.setdefault(b.key[0], {})
            for t in known:
                n = normalise(t.key[0])
                mine[n] = mine.get(n, False) or t.mode != "shared"
    for seed in b.node.seeds:
        values = identities.get(seed.identity)
        if values:
            match.setdefault(seed.field, {}).update(dict.fromkeys(values))
            if seed.identity in FOLDED:
                inputs.fold.setdefault(seed.field, set()).update(map(str, values))
            if flags is not None:
                flags.setdefault(seed.field, {}).update((normalise(v), True) for v in values)
    for inb in b.inbound:
        parent = found.get(inb.edge.source)
        if parent is not None and parent.rows:
            _follow(inb, parent, match.setdefault(inb.edge.target_field, {}), inputs)
    inputs.match = {col: list(values) for col, values in match.items() if values}
    return inputs


def read_collection(b: Bound, inputs: Inputs, reader: Reader, track: bool) -> Found:
    """Read one collection with its inputs; tracked, each row is marked own or shared."""
    if inputs.shared:
        _settle_shared(b, inputs, reader)
    rows = reader.read(b.spec, inputs.match, fold=inputs.fold)
    case_only = _case_only(b, inputs, rows)
    if not track or inputs.flags is None:
        return Found(rows, None, case_only)
    flags = [(b.pos[col], values) for col, values in inputs.flags.items()]
    own = [any(values.get(normalise(row[p]), False) for p, values in flags) for row in rows]
    return Found(rows, own, case_only)


def _case_only(b: Bound, inputs: Inputs, rows: Sequence[Row]) -> int:
    """Rows whose e-mail equals one of the person's only when letter case is ignored."""
    checks = [
        (b.pos[col], given, {match_key(v) for v in given})
        for col, given in inputs.fold.items()
        if col in b.pos
    ]
    count = 0
    for row in rows:
        held = [(row[p], given, low) for p, given, low in checks if isinstance(row[p], str)]
        exact = any(v in given for v, given, _ in held)
        count += not exact and any(match_key(v) in low for v, _, low in held)
    return count


@contextmanager
def reader_for(connector: Connector, current: Connector, reader: Reader) -> Iterator[Reader]:
    """`reader` when `connector` is the store it reads, else a session of `connector`."""
    if connector is current:
        yield reader
        return
    with connector.session() as other:
        yield other


def _follow(inb: Inbound, parent: Found, values: dict[Any, None], inputs: Inputs) -> None:
    p = inb.source_pos
    if inputs.flags is None or parent.own is None:
        for row in parent.rows:
            if row[p] is not None:
                values[row[p]] = None
        return
    flags = inputs.flags.setdefault(inb.edge.target_field, {})
    counts: dict[str, int] = {}
    raw: dict[str, Any] = {}
    for row, own in zip(parent.rows, parent.own, strict=True):
        v = row[p]
        if v is None:
            continue
        values[v] = None
        n = normalise(v)
        if inb.edge.pointer == "target":  # the new rows point at the parent: theirs if it is
            flags[n] = flags.get(n, False) or own
        else:  # the parent points at the new rows: others may point at them too
            flags.setdefault(n, False)
            if own:
                counts[n] = counts.get(n, 0) + 1
                raw[n] = v
    if counts:
        inputs.shared.append((inb, counts, raw))


def _settle_shared(b: Bound, inputs: Inputs, reader: Reader) -> None:
    """A row the person's rows point at is theirs only if no other row points at it."""
    assert inputs.flags is not None
    for inb, counts, raw in inputs.shared:
        total = _count(inb, list(raw.values()), reader, b.connector)
        flags = inputs.flags[inb.edge.target_field]
        for n, mine in counts.items():
            if total.get(n, 0) <= mine:
                flags[n] = True


def _count(inb: Inbound, values: list[Any], reader: Reader, connector: Connector) -> dict[str, int]:
    """Rows of the source collection per value of the pointer field (normalised values)."""
    out: dict[str, int] = {}
    with reader_for(inb.source_connector, connector, reader) as r:
        for value, n in r.count(inb.source_table, inb.edge.source_field, values).items():
            out[normalise(value)] = out.get(normalise(value), 0) + n
    return out
