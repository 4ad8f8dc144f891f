"""Audit log throughput: appends per second, and verifying a million events.

    .venv/bin/python benchmarks/audit_bench.py [--events 1000000] [--no-postgres]

Appends go through `audit.append` inside real transactions (one event per transaction, as a
service writes them, and 100 per transaction). For verification the chain is generated
directly (executemany on SQLite, COPY on PostgreSQL) and `audit.verify` walks it; the
baseline is plain `hashlib.sha256` over the same canonical bytes, i.e. the cost no verifier
can avoid. PostgreSQL runs when 127.0.0.1:5432 answers (a scratch database, dropped after).
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchutil import open_store, postgres_db

from pledge.store import Store, audit
from pledge.store.audit import GENESIS, _record_fast

CHUNK = 50_000


def chain(n: int) -> Iterator[list[tuple[object, ...]]]:
    """`n` valid events in chunks, each row in table column order."""
    prev, rows = GENESIS, []
    at = "2026-11-23T10:00:00.000000Z"
    for seq in range(1, n + 1):
        details = f'{{"n":{seq},"request":"r-{seq % 977}"}}'  # canonical JSON
        oid = f"subject-{seq % 10007}"
        record = _record_fast(
            seq, at, "key:bench", "consent.recorded", "subject", oid, details, prev
        )
        digest = hashlib.sha256(record).hexdigest()
        rows.append(
            (seq, at, "key:bench", "consent.recorded", "subject", oid, details, prev, digest)
        )
        prev = digest
        if len(rows) == CHUNK:
            yield rows
            rows = []
    if rows:
        yield rows


class Baseline:
    """Plain sha256 over the canonical bytes of the events loaded (building them not timed)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.events = 0

    def add(self, rows: list[tuple[object, ...]]) -> None:
        blobs = [_record_fast(*row[:8]) for row in rows]  # type: ignore[arg-type]
        start = time.perf_counter()
        for blob in blobs:
            hashlib.sha256(blob).hexdigest()
        self.seconds += time.perf_counter() - start
        self.events += len(rows)


def fill_sqlite(path: str, n: int, baseline: Baseline) -> float:
    start = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    for rows in chain(n):
        conn.executemany("INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        baseline.add(rows)
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start


def fill_postgres(store: Store, n: int) -> float:
    start = time.perf_counter()
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy("COPY audit_events FROM STDIN") as copy:  # type: ignore[attr-defined]
            for rows in chain(n):
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - start


def append_rate(store: Store, events: int, per_tx: int) -> float:
    start = time.perf_counter()
    for _ in range(events // per_tx):
        with store.transaction() as session:
            for i in range(per_tx):
                audit.append(
                    session, "key:bench", "consent.recorded", "subject", f"s-{i}", {"n": i}
                )
    return events / (time.perf_counter() - start)


def bench_backend(name: str, store: Store, n: int, fill: float) -> list[tuple[str, str]]:
    single = append_rate(store, 300, 1)
    batched = append_rate(store, 3000, 100)
    start = time.perf_counter()
    result = audit.verify(store)
    seconds = time.perf_counter() - start
    assert result.ok and result.events == n + 3300, result.summary()
    return [
        (f"{name}: append, 1 event/transaction", f"{single:,.0f} events/s"),
        (f"{name}: append, 100 events/transaction", f"{batched:,.0f} events/s"),
        (f"{name}: load {n:,} events (set-up, not Pledge code)", f"{fill:.1f} s"),
        (
            f"{name}: verify {result.events:,} events",
            f"{seconds:.2f} s ({result.events / seconds:,.0f}/s)",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    n, table = args.events, []

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        baseline = Baseline()
        fill = fill_sqlite(store.url.database or "", n, baseline)
        label = f"baseline: plain sha256 of the same {baseline.events:,} canonical records"
        table.append((label, f"{baseline.seconds:.2f} s"))
        table += bench_backend("sqlite", store, n, fill)
        store.dispose()
        if not args.no_postgres:
            with postgres_db() as url:
                if url is None:
                    table.append(("postgres", "skipped: 127.0.0.1:5432 unreachable"))
                else:
                    pg = open_store(Path(tmp) / "pg", url)
                    table += bench_backend("postgres", pg, n, fill_postgres(pg, n))
                    pg.dispose()
    width = max(len(label) for label, _ in table)
    print(f"{'measure':<{width}}  result")
    for label, value in table:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
