"""`pledge check --connect`: the datasets against real databases (SQLite, PostgreSQL, MariaDB).

Each test builds a small schema in a fresh database of its own, writes a manifest whose
dataset describes it, and runs the command as a user would; findings must name the dataset
line of the collection or field they are about.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dsr_shop import database, execute
from typer.testing import CliRunner

from pledge.cli import build

MANIFEST = """\
pledge: 1
organization:
  name: Example Shop
  contact: {{email: privacy@shop.example}}
languages: [en]
jurisdictions: [eu, global]
purposes:
  essential.service.operations:
    legal_basis: contract
systems:
  shop:
    name: Web shop
    role: controller
    subjects: [customer]
    collects:
      - categories: [user.contact.email, user.name, user.content, user.financial]
        purposes: [essential.service.operations]
        required: true
    locations: [IE]
    retention: customer
    connection: shop_db
    datasets: [shop.yml]
connections:
  shop_db: {{type: {backend}, url_env: PREFLIGHT_SHOP_URL}}
retention:
  customer: {{keep: P3Y, after: account_closed}}
rights:
  access: {{verification: email}}
  erasure: {{verification: email}}
  rectification: {{verification: email}}
  restriction: {{verification: email}}
  portability: {{verification: email}}
  objection: {{verification: email}}
  complaint: {{verification: none}}
"""

DATASET = """\
dataset:
  - fides_key: shop
    collections:
      - name: customers
        fields:
          - name: id
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string, masking: {strategy: hmac}}
          - name: full_name
            data_categories: [user.name]
            fides_meta: {data_type: string}
      - name: cards
        fields:
          - name: id
            fides_meta: {primary_key: true, data_type: integer}
          - name: customer_id
            fides_meta:
              data_type: integer
              references: [{dataset: shop, field: customers.id, direction: from}]
          - name: holder
            data_categories: [user.financial]
            fides_meta: {data_type: string}
      - name: orders
        fields:
          - name: id
            fides_meta: {primary_key: true, data_type: integer}
          - name: customer_id
            fides_meta:
              data_type: integer
              references: [{dataset: shop, field: customers.id, direction: from}]
          - name: card_id
            fides_meta: {data_type: integer}
          - name: note
            data_categories: [user.content]
            fides_meta: {data_type: string}
"""

CLEAN = (
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(254) NOT NULL UNIQUE, "
    "full_name VARCHAR(200))",
    "CREATE TABLE cards (id INTEGER PRIMARY KEY, "
    "customer_id INTEGER NOT NULL REFERENCES customers (id), holder VARCHAR(200))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
    "customer_id INTEGER NOT NULL REFERENCES customers (id), card_id INTEGER, note TEXT)",
)

BROKEN = (
    # full_name renamed to fullname
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(254) NOT NULL UNIQUE, "
    "fullname VARCHAR(200))",
    "CREATE TABLE cards (id INTEGER PRIMARY KEY, "
    "customer_id INTEGER NOT NULL REFERENCES customers (id), holder VARCHAR(200))",
    # card_id is a foreign key the dataset does not declare; note is NOT NULL with no strategy
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
    "customer_id INTEGER NOT NULL REFERENCES customers (id), "
    "card_id INTEGER REFERENCES cards (id), note TEXT NOT NULL)",
)


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _manifest(folder: Path, backend: str) -> Path:
    (folder / "shop.yml").write_text(DATASET)
    path = folder / "pledge.yaml"
    path.write_text(MANIFEST.format(backend=backend))
    return path


def _line(text: str, needle: str, after: str = "") -> int:
    """1-based line of the first `needle` after the line holding `after`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def _check(manifest: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[dict]]:
    monkeypatch.setenv("PREFLIGHT_SHOP_URL", url)
    result = CliRunner().invoke(build(), ["check", str(manifest), "--connect", "--format", "json"])
    assert "Traceback" not in result.output
    found = json.loads(result.stdout)
    findings = found if isinstance(found, list) else found["findings"]
    return result.exit_code, [f for f in findings if f["rule"] not in _LINT_NOISE]


_LINT_NOISE = {"unused-category"}


def test_clean_schema_passes(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = _manifest(tmp_path, backend)
    with database(backend, tmp_path) as url:
        execute(url, *CLEAN)
        code, findings = _check(manifest, url, monkeypatch)
    assert findings == []
    assert code == 0


def test_broken_schema_found_at_dataset_lines(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _manifest(tmp_path, backend)
    with database(backend, tmp_path) as url:
        execute(url, *BROKEN)
        code, findings = _check(manifest, url, monkeypatch)
    assert code == 1
    by_rule = {f["rule"]: f for f in findings}
    assert set(by_rule) == {"missing-field", "undeclared-foreign-key", "unplannable-collection"}
    renamed = by_rule["missing-field"]
    assert renamed["file"].endswith("shop.yml")
    assert renamed["line"] == _line(DATASET, "name: full_name")
    assert "did you mean 'fullname'" in renamed["hint"]
    foreign = by_rule["undeclared-foreign-key"]
    assert foreign["line"] == _line(DATASET, "name: card_id")
    assert "shop.cards" in foreign["message"]
    not_null = by_rule["unplannable-collection"]
    assert not_null["line"] == _line(DATASET, "name: note")
    assert "NOT NULL" in not_null["message"]


def test_unreachable_connection_is_one_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _manifest(tmp_path, "postgres")
    url = "postgresql://pledge:s3cret-pw@127.0.0.1:1/nowhere"
    monkeypatch.setenv("PREFLIGHT_SHOP_URL", url)
    result = CliRunner().invoke(build(), ["check", str(manifest), "--connect"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "s3cret-pw" not in result.output
    lines = [line for line in result.stdout.splitlines() if "connection-unreachable" in line]
    assert len(lines) == 1
    assert "shop_db" in lines[0]
    assert "PREFLIGHT_SHOP_URL" in lines[0]
    assert lines[0].startswith(f"{manifest}:{_line(MANIFEST, 'shop_db: {{type')}:")
    assert [line for line in result.stdout.splitlines() if " error " in line] == lines


def test_the_example_passes_against_its_demo_databases(tmp_path: Path) -> None:
    """The lumen example's datasets describe the databases `pledge demo` builds from them."""
    from pledge import demo
    from pledge.manifest.load import check
    from pledge.requests.preflight import preflight

    result = check(Path(__file__).parents[2] / "examples" / "lumen" / "pledge.yaml")
    assert result.manifest is not None
    databases = demo.prepare_databases(result.manifest, tmp_path, 5)
    assert [f.format() for f in preflight(result, demo.connection_urls(databases))] == []
