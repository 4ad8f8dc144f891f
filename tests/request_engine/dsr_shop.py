"""The shop of tests/request_engine/fixtures/shop: databases, tables, people and snapshots.

Each test gets its own database with a random name on the real PostgreSQL and MariaDB of the
machine (or a SQLite file), dropped afterwards. A service that cannot be reached skips the
test, or fails it with PLEDGE_REQUIRE_SERVICES=1 (CI).

People: Alice (customer 1) and Bob (2) share order 10; order 11 is Alice's alone, 12 Bob's,
13 Carol's (3). Alice's first address ships order 10 (shared) and her second order 11.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

FIXTURE = Path(__file__).parent / "fixtures" / "shop" / "pledge.yaml"
BACKENDS = ("sqlite", "postgres", "mariadb")
PG = "postgresql://postgres@127.0.0.1:5432/{name}"
MY = "mysql://root@127.0.0.1:3306/{name}"
ENV_VARS = ("SHOP_DATABASE_URL", "SUPPORT_DATABASE_URL", "PARTNER_DATABASE_URL")
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
MASKING_KEY = b"k" * 32


def require_services() -> bool:
    return os.environ.get("PLEDGE_REQUIRE_SERVICES") == "1"


def unavailable(message: str) -> None:
    if require_services():
        pytest.fail(message)
    pytest.skip(message)


def driver_url(url: str) -> str:
    """The URL with the driver SQLAlchemy needs (the manifest's variables hold plain ones)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("mysql://"):
        return "mysql+pymysql://" + url.removeprefix("mysql://")
    return url


@contextmanager
def database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database of `backend`, as a plain URL; dropped at the end."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'shop-{secrets.token_hex(4)}.db'}"
        return
    name = f"pledge_dsr_{secrets.token_hex(6)}"
    template = PG if backend == "postgres" else MY
    admin_db = "postgres" if backend == "postgres" else ""
    admin = sa.create_engine(
        driver_url(template.format(name=admin_db)), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:
        admin.dispose()
        unavailable(f"{backend} is unreachable: {type(exc.orig).__name__}")
    try:
        yield template.format(name=name)
    finally:
        with admin.connect() as conn:
            force = " WITH (FORCE)" if backend == "postgres" else ""
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


def env_for(url: str) -> dict[str, str]:
    return dict.fromkeys(ENV_VARS, url)


def manifest_copy(backend: str, folder: Path, source: Path = FIXTURE) -> Path:
    """The fixture manifest and datasets copied to `folder`, connections of `backend`'s type."""
    target = folder / "shop"
    shutil.copytree(source.parent, target, dirs_exist_ok=True)
    path = target / source.name
    text = path.read_text().replace("type: postgres", f"type: {backend}")
    path.write_text(text)
    return path


# --- tables --------------------------------------------------------------------------------

metadata = MetaData()

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", String(254), nullable=False, unique=True),
    Column("full_name", String(200), nullable=False),
    Column("phone", String(32)),
    Column("birth_date", Date),
    Column("loyalty_code", String(16)),
    Column("created_at", DateTime, nullable=False),
)
addresses = Table(
    "addresses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("street", String(200), nullable=False),
    Column("city", String(100)),
    Column("postal_code", String(20)),
)
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("placed_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("total_cents", Integer, nullable=False),
    Column("shipping_address_id", Integer, ForeignKey("addresses.id")),
    Column("contact_email", String(254)),
    Column("gift_note", Text),
)
order_contacts = Table(
    "order_contacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("role", String(16), nullable=False),
)
order_items = Table(
    "order_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("sku", String(32), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("engraving", String(64)),
)
payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("payer_name", String(200)),
    Column("card_last4", String(4)),
    Column("amount_cents", Integer, nullable=False),
)
shipments = Table(
    "shipments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("recipient_name", String(200), nullable=False),
    Column("tracking_no", String(40), nullable=False),
    Column("delivered_on", Date),
)
reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("rating", Integer, nullable=False),
    Column("body", Text),
    Column("created_at", DateTime, nullable=False),
)
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("ip_address", String(45)),
    Column("user_agent", String(255)),
)
newsletter = Table(
    "newsletter",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", String(254)),
    Column("customer_id", Integer),
    Column("topics", String(200), nullable=False),
)
tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("requester_email", String(254), nullable=False),
    Column("customer_id", Integer),
    Column("subject", String(200), nullable=False),
    Column("opened_at", DateTime, nullable=False),
)
ticket_messages = Table(
    "ticket_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("author", String(254)),
    Column("body", Text),
)
tenant_users = Table(
    "tenant_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", String(254), nullable=False),
    Column("name", String(200)),
)

T0 = datetime(2024, 3, 5, 14, 30, 0)

ROWS: dict[str, list[dict[str, Any]]] = {
    "customers": [
        dict(
            id=1,
            email=ALICE,
            full_name="Alice Example",
            phone="+47 400 00 001",
            birth_date=date(1990, 7, 14),
            loyalty_code="ALC-7731",
            created_at=T0,
        ),
        dict(
            id=2,
            email=BOB,
            full_name="Bob Example",
            phone="+47 400 00 002",
            birth_date=date(1985, 2, 1),
            loyalty_code="BOB-1200",
            created_at=T0,
        ),
        dict(
            id=3,
            email=CAROL,
            full_name="Carol Example",
            phone=None,
            birth_date=None,
            loyalty_code=None,
            created_at=T0,
        ),
    ],
    "addresses": [
        dict(id=100, customer_id=1, street="1 Alice Road", city="Oslo", postal_code="0150"),
        dict(id=101, customer_id=1, street="2 Alice Lane", city="Bergen", postal_code="5003"),
        dict(id=102, customer_id=2, street="9 Bob Street", city="Oslo", postal_code="0151"),
        dict(id=103, customer_id=3, street="5 Carol Way", city=None, postal_code=None),
        dict(id=104, customer_id=1, street="3 Old Alice Road", city="Molde", postal_code="6413"),
    ],
    "orders": [
        dict(
            id=10,
            placed_at=T0,
            status="shipped",
            total_cents=5000,
            shipping_address_id=100,
            contact_email=ALICE,
            gift_note="Happy birthday, Bob",
        ),
        dict(
            id=11,
            placed_at=T0,
            status="shipped",
            total_cents=1200,
            shipping_address_id=101,
            contact_email=ALICE,
            gift_note="For me",
        ),
        dict(
            id=12,
            placed_at=T0,
            status="open",
            total_cents=800,
            shipping_address_id=102,
            contact_email=BOB,
            gift_note=None,
        ),
        dict(
            id=13,
            placed_at=T0,
            status="open",
            total_cents=300,
            shipping_address_id=103,
            contact_email=CAROL,
            gift_note="Carol's note",
        ),
    ],
    "order_contacts": [
        dict(id=1000, order_id=10, customer_id=1, role="buyer"),
        dict(id=1001, order_id=10, customer_id=2, role="recipient"),
        dict(id=1002, order_id=11, customer_id=1, role="buyer"),
        dict(id=1003, order_id=12, customer_id=2, role="buyer"),
        dict(id=1004, order_id=13, customer_id=3, role="buyer"),
    ],
    "order_items": [
        dict(id=500, order_id=10, sku="MUG-1", quantity=2, engraving="For Bob"),
        dict(id=501, order_id=10, sku="TEA-9", quantity=1, engraving=None),
        dict(id=502, order_id=11, sku="PEN-3", quantity=1, engraving="Alice E."),
        dict(id=503, order_id=12, sku="MUG-1", quantity=1, engraving="Bob"),
        dict(id=504, order_id=13, sku="CUP-2", quantity=4, engraving=None),
    ],
    "payments": [
        dict(id=600, order_id=10, payer_name="Alice Example", card_last4="4242", amount_cents=5000),
        dict(id=601, order_id=11, payer_name="Alice Example", card_last4="4242", amount_cents=1200),
        dict(id=602, order_id=12, payer_name="Bob Example", card_last4="1111", amount_cents=800),
    ],
    "shipments": [
        dict(
            id=700,
            order_id=10,
            recipient_name="Bob Example",
            tracking_no="TRK10",
            delivered_on=date(2024, 3, 9),
        ),
        dict(
            id=701,
            order_id=11,
            recipient_name="Alice Example",
            tracking_no="TRK11",
            delivered_on=date(2024, 5, 17),
        ),
        dict(
            id=702,
            order_id=12,
            recipient_name="Bob Example",
            tracking_no="TRK12",
            delivered_on=None,
        ),
    ],
    "reviews": [
        dict(id=800, customer_id=1, rating=5, body="Lovely mugs", created_at=T0),
        dict(id=801, customer_id=1, rating=3, body=None, created_at=T0),
        dict(id=802, customer_id=2, rating=4, body="Good tea", created_at=T0),
    ],
    "sessions": [
        dict(id="s-alice-1", customer_id=1, ip_address="192.0.2.1", user_agent="Firefox"),
        dict(id="s-alice-2", customer_id=1, ip_address="192.0.2.2", user_agent=None),
        dict(id="s-bob-1", customer_id=2, ip_address="192.0.2.3", user_agent="Safari"),
    ],
    "newsletter": [
        dict(id=900, email=ALICE, customer_id=1, topics="tea"),
        dict(id=901, email=BOB, customer_id=None, topics="mugs"),
        dict(id=902, email="alice.work@example.com", customer_id=1, topics="b2b"),
    ],
    "tickets": [
        dict(
            id=1, requester_email=ALICE, customer_id=1, subject="Where is my order?", opened_at=T0
        ),
        dict(id=2, requester_email=ALICE, customer_id=None, subject="Refund", opened_at=T0),
        dict(id=3, requester_email=BOB, customer_id=2, subject="Broken mug", opened_at=T0),
        dict(id=4, requester_email=CAROL, customer_id=None, subject="Question", opened_at=T0),
    ],
    "ticket_messages": [
        dict(id=1, ticket_id=1, author=ALICE, body="It has not arrived"),
        dict(id=2, ticket_id=1, author="agent@shop.example", body="On its way"),
        dict(id=3, ticket_id=2, author=ALICE, body="Please refund"),
        dict(id=4, ticket_id=3, author=BOB, body="Photo attached"),
    ],
    "tenant_users": [
        dict(id=1, email=ALICE, name="Alice Example"),
        dict(id=2, email=BOB, name="Bob Example"),
    ],
}

# What erasing Alice must do: rows deleted, and per kept row the fields that change.
ALICE_DELETED = {
    "addresses": {104},
    "order_contacts": {1000, 1002},
    "sessions": {"s-alice-1", "s-alice-2"},
    "newsletter": {900, 902},
    "ticket_messages": {1, 2, 3},
}
ALICE_MASKED: dict[str, dict[Any, set[str]]] = {
    "customers": {1: {"email", "full_name", "phone", "birth_date", "loyalty_code"}},
    # still referenced by orders 10 (shared with Bob) and 11: masked instead of deleted
    "addresses": {100: {"street", "city", "postal_code"}, 101: {"street", "city", "postal_code"}},
    # order 10 is shared with Bob: only the field holding Alice's e-mail changes
    "orders": {10: {"contact_email"}, 11: {"contact_email", "gift_note"}},
    "order_items": {502: {"engraving"}},
    "payments": {601: {"payer_name", "card_last4"}},
    "shipments": {701: {"recipient_name", "delivered_on"}},
    "reviews": {800: {"body"}},
    "tickets": {1: {"requester_email", "subject"}, 2: {"requester_email", "subject"}},
}
ALICE_ACCESS = {
    "shop.customers": {1},
    "shop.addresses": {100, 101, 104},
    "shop.order_contacts": {1000, 1002},
    "shop.orders": {10, 11},
    "shop.order_items": {500, 501, 502},
    "shop.payments": {600, 601},
    "shop.shipments": {700, 701},
    "shop.reviews": {800, 801},
    "shop.sessions": {"s-alice-1", "s-alice-2"},
    "shop.newsletter": {900, 902},
    "support.tickets": {1, 2},
    "support.ticket_messages": {1, 2, 3},
}


def create_shop(url: str) -> None:
    engine = sa.create_engine(driver_url(url))
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                rows = ROWS.get(table.name)
                if rows:
                    conn.execute(table.insert(), rows)
    finally:
        engine.dispose()


Snapshot = dict[str, dict[Any, tuple[Any, ...]]]


def snapshot(url: str) -> Snapshot:
    """Every row of every table, by primary key."""
    engine = sa.create_engine(driver_url(url))
    try:
        with engine.connect() as conn:
            return {
                table.name: {row[0]: tuple(row) for row in conn.execute(sa.select(table))}
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(driver_url(url))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def changed_fields(before: tuple[Any, ...], after: tuple[Any, ...], table: str) -> set[str]:
    columns = [c.name for c in metadata.tables[table].columns]
    return {c for c, a, b in zip(columns, before, after, strict=True) if a != b}


def column(table: str, row: tuple[Any, ...], name: str) -> Any:
    columns = [c.name for c in metadata.tables[table].columns]
    return row[columns.index(name)]


# --- expectations ------------------------------------------------------------------------------


def assert_only_alice_erased(before: Snapshot, after: Snapshot) -> None:
    """Alice's rows are gone or masked as planned; every other row is exactly as it was."""
    for table, rows in before.items():
        assert set(after[table]) <= set(rows), f"rows appeared in {table}"
        for key, row in rows.items():
            if key in ALICE_DELETED.get(table, ()):
                assert key not in after[table], f"{table} {key} should be deleted"
                continue
            assert key in after[table], f"{table} {key} should still exist"
            expected = ALICE_MASKED.get(table, {}).get(key, set())
            assert changed_fields(row, after[table][key], table) == expected, (table, key)
