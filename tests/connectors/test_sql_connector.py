"""The SQL connector on real PostgreSQL, MariaDB and SQLite: configuration errors that name
the variable (never the URL), reflection, set-based reads and writes, safe error messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from dsr_shop import BACKENDS, database, driver_url
from hypothesis import given
from hypothesis import strategies as st

from pledge.connectors import ConnectorConfigError, ConnectorError, open_connectors
from pledge.connectors.base import ReadSpec, TableName
from pledge.connectors.sql import SqlConnector, _ranges, resolve_url
from pledge.manifest.model import Connection

meta = sa.MetaData()
parents = sa.Table(
    "parents",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(40), nullable=False, unique=True),
    sa.Column("born", sa.Date),
    sa.Column("note", sa.Text),
)
children = sa.Table(
    "children",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("parents.id"), nullable=False),
    sa.Column("amount", sa.Numeric(10, 2)),
    sa.Column("paid", sa.Boolean),
)
pairs = sa.Table(
    "pairs",
    meta,
    sa.Column("a", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("b", sa.String(5), primary_key=True),
    sa.Column("payload", sa.String(20)),
)
contacts = sa.Table(
    "contacts",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(60), nullable=False, index=True),
)
CONTACT_EMAILS = {
    1: "Mixed.Case@X.example",
    2: "mixed.case@x.example",
    3: "MIXED.CASE@X.EXAMPLE",
    4: "mixéd.case@x.example",  # MariaDB's default collation calls these equal: Pledge doesn't
    5: "mixed.case@x.example ",
    6: "mixedcase@x.example",  # no provider dot rules: another mailbox
    7: "ÅSE@x.example",
    8: "Zed@x.example",
}
PARENTS = TableName("parents")
CONTACTS = TableName("contacts")
CHILDREN = TableName("children")
PAIRS = TableName("pairs")


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database(str(request.param), tmp_path) as plain:
        engine = sa.create_engine(driver_url(plain))
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                parents.insert(),
                [
                    {"id": i, "email": f"p{i}@x.example", "born": date(1990, 1, i), "note": None}
                    for i in range(1, 11)
                ],
            )
            conn.execute(
                children.insert(),
                [
                    {"id": 100 + i, "parent_id": 1 + i % 3, "amount": Decimal("1.50"), "paid": True}
                    for i in range(6)
                ],
            )
            conn.execute(
                contacts.insert(), [{"id": k, "email": v} for k, v in CONTACT_EMAILS.items()]
            )
            conn.execute(
                pairs.insert(),
                [{"a": 1, "b": "x", "payload": "p"}, {"a": 1, "b": "y", "payload": None}],
            )
        engine.dispose()
        yield plain


@pytest.fixture
def connector(url: str) -> Iterator[SqlConnector]:
    opened = SqlConnector("test_db", driver_url(url), batch_size=3)
    try:
        yield opened
    finally:
        opened.close()


# --- configuration -----------------------------------------------------------------------------


def test_unset_variable_is_named_and_url_never_shown() -> None:
    pg = Connection(type="postgres", url_env="SHOP_URL")
    with pytest.raises(ConnectorConfigError, match=r"SHOP_URL .*'shop'.* is not set"):
        resolve_url("shop", pg, {})
    with pytest.raises(ConnectorConfigError, match="no url_env"):
        resolve_url("shop", Connection(type="postgres"), {})
    secret = "mysql://admin:hunter2@db.internal/shop"
    with pytest.raises(ConnectorConfigError) as caught:
        resolve_url("shop", pg, {"SHOP_URL": secret})
    assert "hunter2" not in str(caught.value) and "SHOP_URL" in str(caught.value)
    with pytest.raises(ConnectorConfigError) as caught:
        resolve_url("shop", pg, {"SHOP_URL": "not a url hunter2"})
    assert "hunter2" not in str(caught.value)


def test_plain_urls_get_the_installed_drivers() -> None:
    pg = Connection(type="postgres", url_env="U")
    my = Connection(type="mariadb", url_env="U")
    assert resolve_url("k", pg, {"U": "postgres://u:p@h/db"}).drivername == "postgresql+psycopg"
    assert resolve_url("k", my, {"U": "mariadb://u@h/db"}).drivername == "mysql+pymysql"
    assert resolve_url("k", my, {"U": "mysql://u@h/db"}).drivername == "mysql+pymysql"


def test_open_connectors_lists_every_problem_at_once(tmp_path: Path) -> None:
    from dsr_shop import FIXTURE

    from pledge.manifest.load import load_manifest

    with pytest.raises(ConnectorConfigError) as caught:
        open_connectors(load_manifest(FIXTURE), {})
    text = str(caught.value)
    assert "SHOP_DATABASE_URL" in text and "SUPPORT_DATABASE_URL" in text
    assert "PARTNER_DATABASE_URL" not in text  # processor systems are never opened


# --- reflection ----------------------------------------------------------------------------------


def test_reflection_reports_kinds_lengths_keys_and_constraints(connector: SqlConnector) -> None:
    schema = connector.introspect()
    parent = schema.table(PARENTS)
    assert parent is not None
    assert parent.primary_key == ("id",)
    email = parent.columns["email"]
    assert (email.kind, email.length, email.nullable) == ("string", 40, False)
    assert parent.columns["born"].kind == "date"
    assert parent.columns["note"].kind == "string" and parent.columns["note"].length is None
    assert parent.is_unique("email") and not parent.is_unique("note")
    child = schema.table(CHILDREN)
    assert child is not None
    assert child.columns["amount"].kind == "decimal"
    assert child.columns["paid"].kind in ("boolean", "integer")  # MariaDB: TINYINT(1)
    [fk] = child.foreign_keys
    assert (fk.columns, fk.target, fk.target_columns) == (("parent_id",), PARENTS, ("id",))
    assert schema.referencing(PARENTS) == (fk,)
    assert schema.table(PAIRS).primary_key == ("a", "b")  # type: ignore[union-attr]
    assert connector.introspect() is schema  # cached


# --- reads ---------------------------------------------------------------------------------------


def test_reads_are_set_based_batched_and_deduplicated(connector: SqlConnector) -> None:
    spec = ReadSpec(PARENTS, ("id", "email", "born"), (0,))
    emails = [f"p{i}@x.example" for i in (1, 2, 3, 4, 5)]
    rows = connector.read(spec, {"email": emails, "id": [1, 2, 9, "10", "x", None]})
    assert sorted(r[0] for r in rows) == [1, 2, 3, 4, 5, 9, 10]
    assert {r[2] for r in rows if r[0] == 1} == {date(1990, 1, 1)}
    assert connector.read(spec, {"id": ["nope"]}) == []
    assert connector.read(spec, {}) == []


def test_folded_columns_match_any_letter_case_and_nothing_else(connector: SqlConnector) -> None:
    spec = ReadSpec(CONTACTS, ("id", "email"), (0,))

    def ids(values: list[str], **options: object) -> set[int]:
        return {r[0] for r in connector.read(spec, {"email": values}, **options)}  # type: ignore[arg-type]

    assert ids(["mixed.case@x.example"], fold={"email"}) == {1, 2, 3}
    assert ids(["MIXED.case@x.EXAMPLE"], fold={"email"}) == {1, 2, 3}
    assert ids(["åse@x.example", "zed@X.EXAMPLE"], fold={"email"}) == {7, 8}
    # more values than one batch (3): chunked reads give the same rows
    many = ["a@x.example", "b@x.example", "zed@x.example", "mixedcase@x.example"]
    assert ids(many, fold={"email"}) == {6, 8}
    with connector.session() as s:  # and inside a session, beside an exact column
        rows = s.read(spec, {"email": ["MIXED.CASE@x.example"], "id": [8]}, fold={"email"})
    assert {r[0] for r in rows} == {1, 2, 3, 8}


def test_fetch_count_and_references(connector: SqlConnector) -> None:
    with connector.session() as s:
        pair = s.fetch(ReadSpec(PAIRS, ("a", "b", "payload")), ("a", "b"), [(1, "x"), (2, "x")])
        assert pair == [(1, "x", "p")]
        assert s.count(CHILDREN, "parent_id", [1, 2, 3, 4]) == {1: 2, 2: 2, 3: 2}
        assert s.referenced(CHILDREN, ("parent_id",), [(1,), (4,), (2,)]) == {(1,), (2,)}
        excluded = s.referenced(
            CHILDREN, ("parent_id",), [(1,), (2,)], exclude=(("id",), [(100,), (103,), (101,)])
        )
        assert excluded == {(2,)}  # parent 1 is held only by the excluded rows 100 and 103


# --- writes --------------------------------------------------------------------------------------


def test_writes_commit_together_or_not_at_all(connector: SqlConnector) -> None:
    spec = ReadSpec(PARENTS, ("id", "note"), (0,))
    with connector.transaction() as tx:
        assert tx.delete(CHILDREN, ("id",), [(100,), (103,), (999,)]) == 2
        changed = tx.update(PARENTS, ("id",), [((1,), {"note": "a"}), ((2,), {"note": "b"})])
        assert changed == 2
        tx.update(PARENTS, ("id",), [((k,), {"note": "same"}) for k in (3, 4, 5, 6, 7)])
    notes = dict(connector.read(spec, {"id": list(range(1, 8))}))
    assert notes == {1: "a", 2: "b", 3: "same", 4: "same", 5: "same", 6: "same", 7: "same"}

    with pytest.raises(RuntimeError), connector.transaction() as tx:
        tx.delete(CHILDREN, ("id",), [(101,)])
        raise RuntimeError("worker killed")
    assert connector.read(ReadSpec(CHILDREN, ("id",)), {"id": [101]}) == [(101,)]


def test_database_errors_name_table_but_no_value(connector: SqlConnector) -> None:
    with pytest.raises(ConnectorError) as caught, connector.transaction() as tx:
        tx.update(PARENTS, ("id",), [((1,), {"email": "p2@x.example"})])
    text = str(caught.value)
    assert "parents" in text and "test_db" in text
    assert "p2@x.example" not in text
    with pytest.raises(ConnectorError, match="no table"):
        connector.read(ReadSpec(TableName("missing"), ("id",)), {"id": [1]})


# --- case spellings on a byte-order index (PostgreSQL) --------------------------------------------


@given(st.text(alphabet="abcxyz.@-_019K", min_size=1, max_size=16), st.data())
def test_every_case_spelling_lies_in_one_of_the_ranges(value: str, data: st.DataObject) -> None:
    """The index ranges of `ranges` mode hold every spelling whose lower case is the value."""
    lowered = value.lower()
    flips = data.draw(st.lists(st.booleans(), min_size=len(lowered), max_size=len(lowered)))
    spelling = "".join(c.upper() if f else c for c, f in zip(lowered, flips, strict=True))
    ranges = _ranges([lowered])
    assert any(lo <= spelling < hi for lo, hi in ranges)
    assert len(ranges) <= 2**4  # at most four letters of the prefix are spelled both ways


def test_each_store_is_asked_how_to_stay_on_its_index(url: str) -> None:
    """PostgreSQL: byte-order ranges on a plain index, lower() when indexed so; MariaDB: its
    case-insensitive collation; SQLite: lower() on every row. The rows are the same."""
    spec = ReadSpec(CONTACTS, ("id", "email"), (0,))
    expected = {
        "postgresql": ["ranges", "lower"],
        "mysql": ["native", "native"],
        "sqlite": ["lower", "lower"],
    }
    for round in range(2):
        opened = SqlConnector("test_db", driver_url(url))
        try:
            rows = opened.read(spec, {"email": ["MIXED.case@x.example"]}, fold={"email"})
            assert {r[0] for r in rows} == {1, 2, 3}
            assert opened._folds[(CONTACTS, "email")] == expected[opened._backend][round]
        finally:
            opened.close()
        if url.startswith("postgresql") and round == 0:
            engine = sa.create_engine(driver_url(url))
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE INDEX contacts_lower ON contacts (lower(email))")
            engine.dispose()
