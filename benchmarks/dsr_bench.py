"""Data subject requests against PostgreSQL: the engine beside the same queries run directly.

    .venv/bin/python benchmarks/dsr_bench.py [--subjects 1000000] [--requests 100] [--seconds 5]

Two databases are created on 127.0.0.1:5432 (user postgres) and dropped at the end:

- `flat`: 50 tables of 2,000 rows, each with an index on `email` (issue 5, Performance); one
  system whose dataset has an `email` identity in every table.
- `graph`: 12 collections in three levels (users → profiles, addresses, orders, sessions,
  tickets, newsletter → order items, payments, shipments, ticket messages, devices) with
  foreign keys, generated server-side with generate_series; `--subjects` rows per table
  (default one million). The same graph is also built with 10,000 subjects, so the two
  timings show whether a request grows with the size of the tables.

For each request kind the engine's time per request (median, p95) stands beside the time of
the very same statements issued with psycopg directly: the engine's statements are recorded
once (`SqlConnector._execute` is wrapped) and replayed for other subjects by substituting the
subject's keys, on one connection, in the same run. Throughput runs two worker processes for
`--seconds` each. Erasures use a fresh subject every time (an erased subject has nothing left).
The targets of issue 5 are printed beside the figures with PASS or FAIL; the script always
exits 0.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from pledge.connectors.sql import SqlConnector
from pledge.manifest.load import load_manifest
from pledge.requests.engine import Engine

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql://postgres@127.0.0.1:5432/{name}"
KEY = b"bench-masking-key-0123456789abcd"
SMALL_SUBJECTS = 10_000

# --- recording the engine's statements ---------------------------------------------------------

_original_execute = SqlConnector._execute
_shared_log: list[tuple[str, list[Any]]] | None = None


@contextmanager
def recording() -> Iterator[list[tuple[str, list[Any]]]]:
    """Every statement the engine runs (in any of its threads) while the block runs."""
    global _shared_log
    log: list[tuple[str, list[Any]]] = []
    _shared_log = log
    SqlConnector._execute = _logging_execute  # type: ignore[method-assign]
    try:
        yield log
    finally:
        SqlConnector._execute = _original_execute  # type: ignore[method-assign]
        _shared_log = None


def _logging_execute(
    self: SqlConnector, cursor: Any, sql: str, params: Sequence[Any], op: str, table: Any
) -> None:
    if _shared_log is not None:
        _shared_log.append((sql, list(params)))
    _original_execute(self, cursor, sql, params, op, table)


def substitute(
    log: Sequence[tuple[str, list[Any]]], old: int, new: int, email: str
) -> list[tuple[str, list[Any]]]:
    """The recorded statements of subject `old`, for subject `new` (keys and e-mail swapped)."""
    old_mail, new_mail = email.format(old), email.format(new)
    lead = email.split("{}")[0]

    def swap(value: Any) -> Any:
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value == old:
            return new
        if isinstance(value, str) and value in (old_mail, old_mail.lower()):
            return new_mail
        if isinstance(value, str) and value.lower().startswith(lead):
            # an index range of the address's case spellings (`u1@ben` .. `u1@beo`)
            return re.sub(rf"(?<![0-9]){old}(?![0-9])", str(new), value, count=1)
        return value

    return [(sql, [swap(p) for p in params]) for sql, params in log]


def replay(conn: psycopg.Connection[Any], log: Sequence[tuple[str, list[Any]]]) -> None:
    """The statements with psycopg alone: what the requests cost without the engine."""
    with conn.cursor() as cur:
        for sql, params in log:
            cur.execute(sql, params or None)  # type: ignore[arg-type]
            if cur.description is not None:
                cur.fetchall()


# --- databases ------------------------------------------------------------------------------------


@contextmanager
def database(label: str) -> Iterator[str]:
    name = f"pledge_bench_{label}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_sql(url: str, statements: Sequence[str]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("ANALYZE")


FLAT_TABLES = 50
FLAT_ROWS = 2000
FLAT_EMAIL = "user{}@bench.example"


LOWER_INDEX = False
"""`--lower-index`: also index lower(email), the index case-insensitive matching can use."""


def email_indexes(table: str, column: str) -> list[str]:
    extra = [f"CREATE INDEX ON {table} (lower({column}))"] if LOWER_INDEX else []
    return [f"CREATE INDEX ON {table} ({column})", *extra]


def build_flat(url: str) -> None:
    statements = []
    for i in range(FLAT_TABLES):
        t = f"t{i:02d}"
        statements += [
            f"CREATE TABLE {t} (id integer PRIMARY KEY, email varchar(254) NOT NULL, "
            "full_name varchar(200) NOT NULL, phone varchar(32), note text, "
            "created_at timestamp NOT NULL)",
            f"INSERT INTO {t} SELECT g, 'user' || g || '@bench.example', 'Name ' || g, "
            f"'+47 ' || g, 'note ' || g, now() FROM generate_series(1, {FLAT_ROWS}) g",
            *email_indexes(t, "email"),
        ]
    run_sql(url, statements)


GRAPH_EMAIL = "u{}@bench.example"
GRAPH_TABLES: list[tuple[str, str, str]] = [
    # (table, columns, SELECT list over g)
    (
        "users",
        "id bigint PRIMARY KEY, email varchar(254) NOT NULL, full_name varchar(200) NOT NULL, "
        "phone varchar(32), created_at timestamp NOT NULL",
        "g, 'u' || g || '@bench.example', 'User ' || g, '+1 555 ' || g, now()",
    ),
    (
        "profiles",
        "id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users, bio text, "
        "birth_date date",
        "g, g, 'bio ' || g, date '1980-01-01' + (g % 9000)",
    ),
    (
        "addresses",
        "id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users, street varchar(200), "
        "city varchar(100)",
        "g, g, g || ' Main Street', 'City'",
    ),
    (
        "orders",
        "id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users, placed_at timestamp "
        "NOT NULL, total_cents integer NOT NULL, note text",
        "g, g, now(), g % 10000, 'note ' || g",
    ),
    (
        "sessions",
        "id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users, "
        "ip_address varchar(45), user_agent varchar(255)",
        "g, g, '10.0.0.' || (g % 250), 'Agent'",
    ),
    (
        "tickets",
        "id bigint PRIMARY KEY, user_id bigint REFERENCES users, requester_email varchar(254) "
        "NOT NULL, subject varchar(200) NOT NULL",
        "g, g, 'u' || g || '@bench.example', 'Subject ' || g",
    ),
    (
        "newsletter",
        "id bigint PRIMARY KEY, email varchar(254), user_id bigint, topics varchar(100) NOT NULL",
        "g, 'u' || g || '@bench.example', g, 'news'",
    ),
    (
        "order_items",
        "id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders, sku varchar(32) "
        "NOT NULL, engraving varchar(64)",
        "g, g, 'SKU', 'For ' || g",
    ),
    (
        "payments",
        "id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders, "
        "payer_name varchar(200), card_last4 varchar(4), amount_cents integer NOT NULL",
        "g, g, 'User ' || g, '4242', g % 10000",
    ),
    (
        "shipments",
        "id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders, "
        "recipient_name varchar(200) NOT NULL, delivered_on date",
        "g, g, 'User ' || g, date '2024-01-01' + (g % 300)",
    ),
    (
        "ticket_messages",
        "id bigint PRIMARY KEY, ticket_id bigint NOT NULL REFERENCES tickets, body text",
        "g, g, 'message ' || g",
    ),
    (
        "devices",
        "id bigint PRIMARY KEY, session_id bigint NOT NULL REFERENCES sessions, "
        "device_id varchar(64)",
        "g, g, md5(g::text)",
    ),
]
GRAPH_INDEXES = [
    "users (email)",
    "profiles (user_id)",
    "addresses (user_id)",
    "orders (user_id)",
    "sessions (user_id)",
    "tickets (user_id)",
    "tickets (requester_email)",
    "newsletter (email)",
    "newsletter (user_id)",
    "order_items (order_id)",
    "payments (order_id)",
    "shipments (order_id)",
    "ticket_messages (ticket_id)",
    "devices (session_id)",
]


def build_graph(url: str, subjects: int) -> None:
    """Tables first without constraints, rows by generate_series, then keys and indexes."""
    statements = []
    for table, columns, values in GRAPH_TABLES:
        statements.append(f"CREATE TABLE {table} ({_strip_constraints(columns)})")
        statements.append(
            f"INSERT INTO {table} SELECT {values} FROM generate_series(1, {subjects}) g"
        )
    for table, _, _ in GRAPH_TABLES:
        statements.append(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
    for table, columns, _ in GRAPH_TABLES:
        for column, target in _references(columns):
            statements.append(
                f"ALTER TABLE {table} ADD FOREIGN KEY ({column}) REFERENCES {target} (id)"
            )
    statements += [f"CREATE INDEX ON {index}" for index in GRAPH_INDEXES]
    if LOWER_INDEX:
        for index in GRAPH_INDEXES:
            table, column = index.rstrip(")").split(" (")
            statements += email_indexes(table, column)[1:] if "email" in column else []
    run_sql(url, statements)


def _strip_constraints(columns: str) -> str:
    out = []
    for part in columns.split(", "):
        words = part.replace(" PRIMARY KEY", "").split(" REFERENCES ")[0]
        out.append(words)
    return ", ".join(out)


def _references(columns: str) -> Iterator[tuple[str, str]]:
    for part in columns.split(", "):
        if " REFERENCES " in part:
            column = part.split(" ")[0]
            target = part.split(" REFERENCES ")[1].split(" ")[0]
            yield column, target


# --- manifests ------------------------------------------------------------------------------------

MANIFEST = """\
pledge: 1
organization: {{name: Bench, contact: {{email: privacy@bench.example}}}}
languages: [en]
systems:
  bench:
    name: Bench
    collects:
      - categories: [user.contact.email, user.name, user.contact.phone_number,
                     user.content.private, user.contact.address, user.device,
                     user.demographic.date_of_birth, user.financial]
        purposes: [essential.service.operations]
    connection: bench_db
    datasets: [dataset.yml]
connections:
  bench_db: {{type: postgres, url_env: BENCH_DATABASE_URL}}
"""


def field(name: str, meta: str, category: str | None = None) -> str:
    cat = f"\n            data_categories: [{category}]" if category else ""
    return f"          - name: {name}{cat}\n            fides_meta: {{{meta}}}\n"


def flat_dataset() -> str:
    out = ["dataset:\n  - fides_key: flat\n    collections:\n"]
    for i in range(FLAT_TABLES):
        override = (
            "        fides_meta: {masking_strategy_override: {strategy: delete}}\n"
            if i % 5 == 0
            else ""
        )
        out.append(f"      - name: t{i:02d}\n{override}        fields:\n")
        out.append(field("id", "primary_key: true, data_type: integer"))
        out.append(
            field("email", "identity: email, masking: {strategy: hmac}", "user.contact.email")
        )
        out.append(field("full_name", "masking: {strategy: string_rewrite}", "user.name"))
        out.append(field("phone", "data_type: string", "user.contact.phone_number"))
        out.append(field("note", "data_type: string", "user.content.private"))
        out.append(field("created_at", "pledge_type: datetime"))
    return "".join(out)


def graph_dataset() -> str:
    def ref(target: str) -> str:
        return f"references: [{{dataset: graph, field: {target}, direction: from}}]"

    delete = "        fides_meta: {masking_strategy_override: {strategy: delete}}\n"
    tables = {
        "users": [
            field("id", "primary_key: true, identity: user_id"),
            field("email", "identity: email, masking: {strategy: hmac}", "user.contact.email"),
            field("full_name", "masking: {strategy: string_rewrite}", "user.name"),
            field("phone", "data_type: string", "user.contact.phone_number"),
            field("created_at", "pledge_type: datetime"),
        ],
        "profiles": [
            field("id", "primary_key: true"),
            field("user_id", ref("users.id")),
            field("bio", "data_type: string", "user.content.private"),
            field(
                "birth_date",
                "masking: {strategy: generalize_date}",
                "user.demographic.date_of_birth",
            ),
        ],
        "addresses": [
            field("id", "primary_key: true"),
            field("user_id", ref("users.id")),
            field("street", "data_type: string", "user.contact.address.street"),
            field("city", "data_type: string", "user.contact.address.city"),
        ],
        "orders": [
            field("id", "primary_key: true"),
            field("user_id", ref("users.id")),
            field("placed_at", "pledge_type: datetime"),
            field("total_cents", "data_type: integer"),
            field("note", "data_type: string", "user.content.private"),
        ],
        "sessions": [
            field("id", "primary_key: true"),
            field("user_id", ref("users.id")),
            field("ip_address", "data_type: string", "user.device.ip_address"),
            field("user_agent", "data_type: string", "user.device"),
        ],
        "tickets": [
            field("id", "primary_key: true"),
            field("user_id", ref("users.id")),
            field(
                "requester_email",
                "identity: email, masking: {strategy: hmac}",
                "user.contact.email",
            ),
            field("subject", "masking: {strategy: string_rewrite}", "user.content.private"),
        ],
        "newsletter": [
            field("id", "primary_key: true"),
            field("email", "identity: email", "user.contact.email"),
            field("user_id", ref("users.id")),
            field("topics", "data_type: string"),
        ],
        "order_items": [
            field("id", "primary_key: true"),
            field("order_id", ref("orders.id")),
            field("sku", "data_type: string"),
            field("engraving", "data_type: string", "user.content.private"),
        ],
        "payments": [
            field("id", "primary_key: true"),
            field("order_id", ref("orders.id")),
            field("payer_name", "data_type: string", "user.name"),
            field("card_last4", "data_type: string", "user.financial"),
            field("amount_cents", "data_type: integer"),
        ],
        "shipments": [
            field("id", "primary_key: true"),
            field("order_id", ref("orders.id")),
            field("recipient_name", "masking: {strategy: string_rewrite}", "user.name"),
            field(
                "delivered_on",
                "masking: {strategy: generalize_date}",
                "user.demographic.date_of_birth",
            ),
        ],
        "ticket_messages": [
            field("id", "primary_key: true"),
            field("ticket_id", ref("tickets.id")),
            field("body", "data_type: string", "user.content.private"),
        ],
        "devices": [
            field("id", "primary_key: true"),
            field("session_id", ref("sessions.id")),
            field("device_id", "data_type: string", "user.device"),
        ],
    }
    deleted = {"addresses", "newsletter"}
    out = ["dataset:\n  - fides_key: graph\n    collections:\n"]
    for name, fields in tables.items():
        out.append(f"      - name: {name}\n{delete if name in deleted else ''}        fields:\n")
        out.extend(fields)
    return "".join(out)


def write_manifest(folder: Path, dataset: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pledge.yaml").write_text(MANIFEST.format())
    (folder / "dataset.yml").write_text(dataset)
    return folder / "pledge.yaml"


def open_engine(manifest: Path, url: str) -> Engine:
    return Engine.open(
        load_manifest(manifest, lint=False), {"BENCH_DATABASE_URL": url}, masking_key=KEY
    )


# --- measuring ------------------------------------------------------------------------------------


def _time(run: Callable[..., Any], *args: Any) -> float:
    start = time.perf_counter()
    run(*args)
    return time.perf_counter() - start


def summary(times: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


class Scenario:
    """One database + manifest: measures access and erasure, engine beside direct replay."""

    def __init__(self, label: str, manifest: Path, url: str, subjects: int, email: str) -> None:
        self.label = label
        self.manifest = manifest
        self.url = url
        self.subjects = subjects
        self.email = email
        self.engine = open_engine(manifest, url)
        self.direct = psycopg.connect(url, autocommit=True)
        self.fresh = iter(random.Random(7).sample(range(1, subjects + 1), min(subjects, 5000)))
        self.statements = {"access": 0, "erasure": 0}

    def close(self) -> None:
        self.engine.close()
        self.direct.close()

    def access_template(self) -> tuple[int, list[tuple[str, list[Any]]]]:
        subject = 1
        with recording() as log:
            result = self.engine.access({"email": [self.email.format(subject)]})
        assert result.collections, f"{self.label}: the benchmark subject was not found"
        self.statements["access"] = len(log)
        return subject, log

    def access(self, n: int) -> tuple[list[float], list[float], float]:
        """Per request: the engine, then the same statements directly (interleaved, so load
        from elsewhere on the machine hits both alike)."""
        first = time.perf_counter()
        self.engine.access({"email": [self.email.format(2)]})  # reflection, plan, catalog
        cold = time.perf_counter() - first
        subject, log = self.access_template()  # the statements of a warm request
        engine: list[float] = []
        direct: list[float] = []
        for _ in range(n):
            person = random.randint(1, self.subjects)
            engine.append(_time(self.engine.access, {"email": [self.email.format(person)]}))
            statements = substitute(log, subject, person, self.email)
            direct.append(_time(replay, self.direct, statements))
        return engine, direct, cold

    def erasure(self, n: int) -> tuple[list[float], list[float], str]:
        template = next(self.fresh)
        with recording() as log:
            report = self.engine.erase({"email": [self.email.format(template)]})
        self.statements["erasure"] = len(log)
        engine: list[float] = []
        direct: list[float] = []
        for _ in range(n):
            person = next(self.fresh)
            engine.append(_time(self._erase, person))
            statements = substitute(log, template, next(self.fresh), self.email)
            direct.append(_time(replay, self.direct, statements))
        return engine, direct, report.status

    def _erase(self, subject: int) -> None:
        report = self.engine.erase({"email": [self.email.format(subject)]})
        assert report.status == "completed", report.to_json()


# --- throughput (two worker processes) -----------------------------------------------------------


def _worker(kind: str, manifest: str, url: str, subjects: int, email: str, seconds: float) -> int:
    """Access requests for random subjects, for `seconds`: by the engine or replayed."""
    rng = random.Random()
    engine = open_engine(Path(manifest), url)
    engine.access({"email": [email.format(2)]})
    with recording() as log:
        engine.access({"email": [email.format(1)]})
    conn = psycopg.connect(url, autocommit=True)

    def run() -> None:
        person = rng.randint(1, subjects)
        if kind == "engine":
            engine.access({"email": [email.format(person)]})
        else:
            replay(conn, substitute(log, 1, person, email))

    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        run()
        count += 1
    engine.close()
    conn.close()
    return count


def throughput(scenario: Scenario, seconds: float, workers: int = 2) -> tuple[float, float]:
    """Requests per second of two worker processes: engine and direct, in alternating rounds."""
    ctx = mp.get_context("spawn")
    done = {"engine": 0, "direct": 0}
    rounds = 2
    with ctx.Pool(workers) as pool:
        for _ in range(rounds):
            for kind in done:
                args = (
                    kind,
                    str(scenario.manifest),
                    scenario.url,
                    scenario.subjects,
                    scenario.email,
                    seconds / rounds,
                )
                done[kind] += sum(pool.starmap(_worker, [args] * workers))
    return done["engine"] / seconds, done["direct"] / seconds


# --- report ---------------------------------------------------------------------------------------


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, what: str, engine: str, direct: str, verdict: str = "") -> None:
        self.rows.append((what, engine, direct, verdict))

    def print(self) -> None:
        head = ("measure", "engine", "direct (psycopg)", "target")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        for row in [head, *self.rows]:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def ms(values: tuple[float, float]) -> str:
    return f"{values[0]:7.2f} / {values[1]:7.2f} ms"


def verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'} ({text})"


def measure_scenario(s: Scenario, table: Table, requests: int, targets: bool) -> dict[str, float]:
    engine, direct, cold = s.access(requests)
    a_e, a_d = summary(engine), summary(direct)
    ratio = a_e[0] / a_d[0]
    table.add(
        f"{s.label}: access, median / p95 ({s.statements['access']} statements)",
        ms(a_e),
        ms(a_d),
        verdict(a_e[0] < 150 and ratio <= 3, f"< 150 ms, ≤ 3x: {ratio:.1f}x") if targets else "",
    )
    table.add(f"{s.label}: first access (reflection, plan)", f"{cold * 1000:7.1f} ms", "", "")
    engine, direct, status = s.erasure(max(5, requests // 4))
    e_e, e_d = summary(engine), summary(direct)
    table.add(
        f"{s.label}: erasure, median / p95 ({s.statements['erasure']} statements, {status})",
        ms(e_e),
        ms(e_d),
        verdict(e_e[0] < 300, f"< 300 ms, {e_e[0] / e_d[0]:.1f}x") if targets else "",
    )
    return {"access": a_e[0], "erasure": e_e[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--lower-index", action="store_true", help="also index lower(email) in every table"
    )
    args = parser.parse_args()
    global LOWER_INDEX
    LOWER_INDEX = args.lower_index
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError:
        print("PostgreSQL on 127.0.0.1:5432 is unreachable: nothing measured")
        return 0
    table = Table()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        flat_manifest = write_manifest(Path(tmp) / "flat", flat_dataset())
        graph_manifest = write_manifest(Path(tmp) / "graph", graph_dataset())
        with database("flat") as url:
            t0 = time.perf_counter()
            build_flat(url)
            print(f"flat: 50 tables x {FLAT_ROWS} rows built in {time.perf_counter() - t0:.1f} s")
            s = Scenario("50 tables", flat_manifest, url, FLAT_ROWS, FLAT_EMAIL)
            try:
                measure_scenario(s, table, args.requests, True)
                e, d = throughput(s, args.seconds)
                table.add(
                    "50 tables: access throughput, 2 worker processes",
                    f"{e:7.1f} req/s",
                    f"{d:7.1f} req/s",
                    verdict(e >= 30, "≥ 30 req/s"),
                )
            finally:
                s.close()
        sizes = (
            [SMALL_SUBJECTS, args.subjects] if args.subjects > SMALL_SUBJECTS else [args.subjects]
        )
        figures = {}
        for size in sizes:
            with database("graph") as url:
                t0 = time.perf_counter()
                build_graph(url, size)
                built = time.perf_counter() - t0
                print(f"graph: 12 tables x {size:,} subjects built in {built:.1f} s")
                s = Scenario(
                    f"12-collection graph, {size:,} subjects",
                    graph_manifest,
                    url,
                    size,
                    GRAPH_EMAIL,
                )
                try:
                    figures[size] = measure_scenario(s, table, args.requests, size == sizes[-1])
                finally:
                    s.close()
        if len(sizes) == 2:
            small, large = figures[sizes[0]], figures[sizes[1]]
            for kind in ("access", "erasure"):
                growth = large[kind] / small[kind]
                table.add(
                    f"graph: {kind} at {sizes[1]:,} vs {sizes[0]:,} subjects",
                    f"{growth:7.2f}x",
                    "",
                    verdict(growth < 1.5, "no growth beyond index lookups: < 1.5x"),
                )
    print()
    table.print()
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
