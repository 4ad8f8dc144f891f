"""The example's datasets: the plan reaches every collection, and an erasure over SQLite
tables built from the datasets' own types is planned, executed and verified."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pledge.manifest.datasets import DatasetField
from pledge.manifest.graph import plan_graph
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.requests.engine import Engine

LUMEN = Path(__file__).parents[2] / "examples" / "lumen" / "pledge.yaml"
TYPES = {
    "integer": sa.Integer,
    "float": sa.Float,
    "boolean": sa.Boolean,
    "date": sa.Date,
    "datetime": sa.DateTime,
}


@pytest.fixture(scope="module")
def lumen() -> Manifest:
    return load_manifest(LUMEN)


def column(fld: DatasetField) -> sa.Column[object]:
    meta = fld.meta
    kind = TYPES.get(meta.kind or "")
    sa_type = (
        kind() if kind else sa.String(meta.length) if meta.data_type == "string" else sa.Text()
    )
    return sa.Column(fld.name, sa_type, primary_key=meta.primary_key)


@pytest.fixture
def stores(lumen: Manifest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """One SQLite file per controller connection, with a table per collection."""
    env: dict[str, str] = {}
    for key, system in lumen.systems.items():
        if system.role != "controller" or not system.connection:
            continue
        connection = lumen.connections[system.connection]
        if connection.url_env is None or connection.type != "sqlite":
            continue
        url = f"sqlite:///{tmp_path / (system.connection + '.db')}"
        env[connection.url_env] = url
        metadata = sa.MetaData()
        for dataset in lumen.datasets_of(key):
            for coll in dataset.collections:
                sa.Table(coll.name, metadata, *(column(f) for f in coll.fields))
        engine = sa.create_engine(url)
        metadata.create_all(engine)
        engine.dispose()
    yield env


def insert(env: dict[str, str], var: str, table: str, **row: object) -> None:
    engine = sa.create_engine(env[var])
    with engine.begin() as conn:
        conn.execute(sa.table(table, *(sa.column(k) for k in row)).insert().values(**row))
    engine.dispose()


def test_lumen_plan_has_no_unreachable_collection(lumen: Manifest) -> None:
    graph = plan_graph(lumen)
    assert graph.unreachable == ()
    assert len(graph.levels) == 4


def test_lumen_erasure_plan_fits_tables_built_from_its_datasets(
    lumen: Manifest, stores: dict[str, str]
) -> None:
    insert(stores, "LUMEN_ACCOUNTS_URL", "organizations", id=1, name="Acme", plan="pro")
    insert(
        stores,
        "LUMEN_ACCOUNTS_URL",
        "users",
        id="u1",
        organization_id=1,
        email="ada@acme.example",
        first_name="Ada",
        username="ada",
    )
    insert(stores, "LUMEN_BILLING_URL", "customers", id="c1", account_user_id="u1")
    insert(stores, "LUMEN_BILLING_URL", "invoices", id="i1", customer_id="c1", total_cents=900)
    insert(stores, "LUMEN_MARKETING_URL", "contacts", id=5, email="ada@acme.example")
    engine = Engine.open(lumen, stores, masking_key=b"k" * 32)
    try:
        plan = engine.erasure_plan()  # every strategy fits its column
        assert plan.steps[0].id == "collect" and plan.steps[-1].id == "verify"
        found = engine.access({"email": ["ada@acme.example"]})
        assert {c.node for c in found.collections} == {
            "accounts.users",
            "accounts.organizations",
            "billing.customers",
            "billing.invoices",
            "marketing.contacts",
        }
        report = engine.erase({"email": ["ada@acme.example"]})
    finally:
        engine.close()
    assert report.status == "completed"
    by_node = {f"{c.dataset}.{c.collection}": c for c in report.collections}
    assert by_node["billing.invoices"].kept_fields == ("total_cents",)  # a legal obligation
    assert by_node["accounts.users"].rows_masked == 1
    assert report.manual == ("recruitment",)
