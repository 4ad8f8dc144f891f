"""Job queue overhead per job on SQLite and PostgreSQL, against a bare INSERT + UPDATE.

    .venv/bin/python benchmarks/jobs_bench.py [--jobs 1000] [--no-postgres]

A job's life is three transactions: enqueue (INSERT), claim (UPDATE … RETURNING with a lease;
`FOR UPDATE SKIP LOCKED` on PostgreSQL) and completion (fenced UPDATE, in the handler's own
transaction). The handler here does nothing, so the figure is the queue's own cost. The
baseline does the least any durable queue must: one INSERT transaction and one UPDATE
transaction per item, on a plain table through the same engine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchutil import open_store, postgres_db
from sqlalchemy import text

from pledge.store import Store
from pledge.store.jobs import JobContext, Worker, enqueue, handler


@handler("bench.noop")
def noop(ctx: JobContext) -> None:
    """Does nothing: what remains is the queue's overhead."""


def baseline(store: Store, n: int) -> float:
    with store.transaction() as session:
        session.execute(text("CREATE TABLE bench_items (id INTEGER PRIMARY KEY, state TEXT)"))
    start = time.perf_counter()
    for i in range(n):
        with store.transaction() as session:
            session.execute(text("INSERT INTO bench_items VALUES (:i, 'queued')"), {"i": i})
        with store.transaction() as session:
            session.execute(text("UPDATE bench_items SET state = 'done' WHERE id = :i"), {"i": i})
    return (time.perf_counter() - start) / n


def queue(store: Store, n: int) -> tuple[float, float, float]:
    """Seconds per job: enqueue (one transaction each), then claim + run + complete."""
    start = time.perf_counter()
    for i in range(n):
        with store.transaction() as session:
            enqueue(session, "bench.noop", {"i": i})
    enqueued = time.perf_counter()
    worker = Worker(store, kinds=["bench.noop"])
    done = worker.run(threading.Event(), once=True)
    finished = time.perf_counter()
    assert done == n, done
    return (enqueued - start) / n, (finished - enqueued) / n, (finished - start) / n


def parallel_drain(store: Store, n: int, threads: int) -> float:
    """Jobs per second drained by `threads` workers (enqueued in one transaction)."""
    with store.transaction() as session:
        for i in range(n):
            enqueue(session, "bench.noop", {"i": i})
    start = time.perf_counter()
    stop, counts = threading.Event(), []

    def drain() -> None:
        counts.append(Worker(store, kinds=["bench.noop"]).run(stop, once=True))

    pool = [threading.Thread(target=drain) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert sum(counts) == n, counts
    return n / (time.perf_counter() - start)


def measure(name: str, root: Path, url: str, n: int) -> list[tuple[str, str]]:
    store = open_store(root, url)
    try:
        base = baseline(store, n)
        put, run, total = queue(store, n)
        drained = parallel_drain(store, n, 4)
    finally:
        store.dispose()
    ms = 1000
    return [
        (f"{name}: baseline INSERT + UPDATE (2 transactions)", f"{base * ms:.2f} ms/item"),
        (f"{name}: enqueue (1 transaction)", f"{put * ms:.2f} ms/job"),
        (f"{name}: claim + run + complete (2 transactions)", f"{run * ms:.2f} ms/job"),
        (
            f"{name}: whole job, overhead vs baseline",
            f"{total * ms:.2f} ms/job ({total / base:.2f}x)",
        ),
        (f"{name}: drain with 4 worker threads", f"{drained:,.0f} jobs/s"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    table: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'sqlite' / 'pledge.db'}"
        table += measure("sqlite", Path(tmp) / "sqlite", sqlite_url, args.jobs)
        if not args.no_postgres:
            with postgres_db() as url:
                if url is None:
                    table.append(("postgres", "skipped: 127.0.0.1:5432 unreachable"))
                else:
                    table += measure("postgres", Path(tmp) / "pg", url, args.jobs)
    width = max(len(label) for label, _ in table)
    print(f"{'measure':<{width}}  result")
    for label, value in table:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
