"""Erasure on the demo's own databases (what `pledge demo` serves): no trace is left.

The engine's verification read is its own judge; this test judges independently, by scanning
every cell of every controller table for the person's address, and by checking that each row
that changed is one the access read attributed to the person, so colleagues who share a row
keep theirs.
Processor systems hold the customers' data (P-S14): their databases stay byte-identical and the
request is forwarded instead.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from pledge.demo import EXAMPLE, Person, make_people, prepare_databases
from pledge.manifest.load import load_manifest
from pledge.requests.engine import Engine

ROOT = Path(__file__).parents[2]
PEOPLE, SEED = 60, 11
Snapshot = dict[tuple[str, str], dict[int, tuple[object, ...]]]


def _snapshot(paths: list[Path]) -> Snapshot:
    """Every row of every table, by (database, table) and rowid."""
    shot: Snapshot = {}
    for path in paths:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            tables = [
                t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                rows = conn.execute(f'SELECT rowid, * FROM "{table}"').fetchall()
                shot[(path.name, table)] = {r[0]: tuple(r[1:]) for r in rows}
    return shot


def _cells(shot: Snapshot) -> Counter[str]:
    return Counter(
        str(cell).lower()
        for rows in shot.values()
        for row in rows.values()
        for cell in row
        if cell is not None
    )


def _sharer(crowd: list[Person], shot: Snapshot) -> Person:
    """Someone whose address sits in a row that also names a colleague (a shared row)."""
    for person in crowd:
        for row in (r for rows in shot.values() for r in rows.values()):
            values = {str(c) for c in row}
            if person.email in values and any(
                other.user_id in values for other in crowd if other is not person
            ):
                return person
    pytest.fail("the demo data has no shared row to test with")


def test_demo_erasure_leaves_no_trace(tmp_path: Path) -> None:
    manifest = load_manifest(ROOT / EXAMPLE)
    made = prepare_databases(manifest, tmp_path, PEOPLE, seed=SEED)
    crowd = make_people(PEOPLE, SEED)
    processor = {
        db.path for db in made if all(manifest.systems[s].role == "processor" for s in db.systems)
    }
    assert processor, "the demo should have a processor system"
    paths = [db.path for db in made if db.path not in processor]
    before, untouched = _snapshot(paths), _snapshot(sorted(processor))
    person = _sharer(crowd, before)

    engine = Engine.open(manifest, {db.url_env: db.url for db in made}, masking_key=b"d" * 32)
    try:
        found = engine.access({"email": [person.email]}).collections
        # Tables are built from the datasets, so a row's first cell is its collection's first field.
        mine = {(c.collection, str(row[0])) for c in found for row in c.rows}
        assert mine
        report = engine.erase({"email": [person.email]})
        assert report.status == "completed", report.to_json()
        assert not engine.access({"email": [person.email]}).collections
        assert {f.system for f in report.forwarded} == {
            s for db in made if db.path in processor for s in db.systems
        }
    finally:
        engine.close()

    assert _snapshot(sorted(processor)) == untouched
    after = _snapshot(paths)
    cells = _cells(after)
    assert cells[person.email.lower()] == 0
    assert not any(person.email.lower() in cell for cell in cells)
    counted = _cells(before)
    for other in crowd:
        if other is not person:
            assert cells[other.email.lower()] == counted[other.email.lower()], other.email
    for key, rows in before.items():
        for rowid, row in rows.items():
            if after[key].get(rowid) != row:
                assert (key[1], str(row[0])) in mine, f"{key}: row {rowid} was not the person's"
