"""Migrations are frozen history: the schema they build at head never changes by accident.

`head-<backend>.json` was dumped from the migrations as they stood when they still imported
live modules (column types and table lists from `pledge.store.tables`, `pledge.consent`,
`pledge.requests`); they now carry their own frozen copies (`migrations/_frozen.py`), and a
fresh database upgraded to head must still have exactly that schema: tables, columns and
their types, keys, indexes, checks, triggers. A migration that changes the schema on purpose
is a new revision, and the fixtures are dumped again (see the end of this file).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import CheckConstraint, inspect, text
from sqlalchemy.engine import Connection

from pledge.config import Settings
from pledge.store.db import Store
from pledge.store.migrations import upgrade
from pledge.store.tables import Base

FIXTURES = Path(__file__).parent.parent / "fixtures" / "schema"


def _triggers(conn: Connection) -> dict[str, str]:
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
        return {name: " ".join(sql.split()) for name, sql in rows}
    rows = conn.execute(
        text(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE NOT tgisinternal ORDER BY tgname"
        )
    )
    found = {name: sql for name, sql in rows}
    functions = conn.execute(
        text(
            "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
        )
    )
    found.update({f"function {name}": sql for name, sql in functions})
    return found


def _sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))


def dump(conn: Connection) -> dict[str, Any]:
    """Everything about the schema that a migration decides, as plain JSON."""
    inspector = inspect(conn)
    tables: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        columns = [
            {
                "name": c["name"],
                "type": str(c["type"]),
                "nullable": c["nullable"],
                "default": None if c.get("default") is None else str(c["default"]),
            }
            for c in inspector.get_columns(name)
        ]
        tables[name] = {
            "columns": columns,
            "primary_key": inspector.get_pk_constraint(name),
            "foreign_keys": _sorted(inspector.get_foreign_keys(name)),
            "indexes": _sorted(inspector.get_indexes(name)),
            "unique": _sorted(inspector.get_unique_constraints(name)),
            "checks": _sorted(inspector.get_check_constraints(name)),
        }
    result: dict[str, Any] = {"tables": tables, "triggers": _triggers(conn)}
    return json.loads(json.dumps(result, sort_keys=True, default=str))


def _schema_at_head(settings: Settings) -> dict[str, Any]:
    store = Store(settings)
    try:
        upgrade(store)
        with store.engine.connect() as conn:
            return dump(conn)
    finally:
        store.dispose()


def _fixture(backend: str) -> Path:
    return FIXTURES / f"head-{backend}.json"


def test_a_fresh_database_at_head_has_the_frozen_schema(
    db_backend: str, db_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    expected = json.loads(_fixture(db_backend).read_text(encoding="utf-8"))
    assert _schema_at_head(settings) == expected


def test_vocabularies_defined_once_match_the_checks_at_head(store: Store) -> None:
    """The models' `known_*` checks are built from the vocabularies (request kinds, job
    states …); the frozen migrations must have built the same lists into the database."""
    import pledge.consent.tables
    import pledge.requests.tables  # noqa: F401

    inspector = inspect(store.engine)
    compared = 0
    for table in Base.metadata.sorted_tables:
        built = {
            c["name"]: re.findall(r"'([^']+)'", c["sqltext"])
            for c in inspector.get_check_constraints(table.name)
        }
        for check in table.constraints:
            name = str(check.name)  # the naming convention's full name
            if isinstance(check, CheckConstraint) and name.startswith(f"ck_{table.name}_known_"):
                assert built[name] == re.findall(r"'([^']+)'", str(check.sqltext)), name
                compared += 1
    assert compared == 8


if __name__ == "__main__":  # dump again: python tests/store/test_migrations_frozen.py BACKEND URL
    backend, url = sys.argv[1], sys.argv[2]
    schema = _schema_at_head(Settings(data_dir=Path(sys.argv[3]), database_url=url))
    _fixture(backend).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
