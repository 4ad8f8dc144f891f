"""The durable job queue: idempotency, retries, leases, crashes, many workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from store_job_handlers import side_effects_ddl

from pledge.store import Store, jobs
from pledge.store.jobs import JobContext, PermanentJobError, Worker, enqueue, get_job, handler
from pledge.store.tables import Job, utcnow

HERE = Path(__file__).parent


class Clock:
    """A settable clock, so backoff and lease expiry need no sleeping."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=1)  # jobs enqueued "now" are due

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def job(store: Store, job_id: int) -> Job:
    with store.reader() as session:
        found = get_job(session, job_id)
    assert found is not None
    return found


def add(store: Store, kind: str, payload: dict[str, Any] | None = None, **options: Any) -> int:
    with store.transaction() as session:
        return enqueue(session, kind, payload or {}, **options)


@pytest.fixture
def side_effects(store: Store) -> Callable[[], list[tuple[int, int, int]]]:
    with store.transaction() as session:
        session.execute(text(side_effects_ddl(store.is_postgres)))

    def rows() -> list[tuple[int, int, int]]:
        with store.reader() as session:
            result = session.execute(
                text("SELECT job_id, attempt, pid FROM test_side_effects ORDER BY id")
            )
            return [(r[0], r[1], r[2]) for r in result]

    return rows


def test_idempotency_key_returns_the_existing_job(store: Store) -> None:
    first = add(store, "mail.send", {"template": "receipt"}, idempotency_key="req-1:receipt")
    second = add(store, "mail.send", {"template": "other"}, idempotency_key="req-1:receipt")
    assert first == second
    with store.reader() as session:
        assert session.execute(text("SELECT count(*) FROM jobs")).scalar() == 1
    assert job(store, first).payload == {"template": "receipt"}


def test_a_job_exists_only_if_its_transaction_commits(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as session:
        enqueue(session, "mail.send", {})
        raise RuntimeError("the change failed")
    with store.reader() as session:
        assert session.execute(text("SELECT count(*) FROM jobs")).scalar() == 0


calls: list[int] = []


@handler("test.always_fails", backoff_base=10, backoff_cap=25)
def always_fails(ctx: JobContext) -> None:
    calls.append(ctx.attempt)
    raise ConnectionError("SMTP refused mail for ada@example.org, call +44 20 7946 0000")


def test_retries_with_backoff_then_fails_without_personal_data(store: Store) -> None:
    clock = Clock()
    worker = Worker(store, kinds=["test.always_fails"], clock=clock)
    job_id = add(store, "test.always_fails", max_attempts=3)
    delays = []
    for attempt in (1, 2):
        assert worker.run_one()
        state = job(store, job_id)
        assert state.state == "queued" and state.attempts == attempt
        delay = (state.run_at - clock.now).total_seconds()
        delays.append(delay)
        assert not worker.run_one()  # not due yet
        clock.advance(delay + 0.001)
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20
    assert worker.run_one()
    failed = job(store, job_id)
    assert failed.state == "failed" and failed.attempts == 3 and failed.finished_at
    assert failed.last_error is not None and failed.last_error.startswith("ConnectionError")
    assert "ada@" not in failed.last_error and "7946" not in failed.last_error
    assert "<email>" in failed.last_error
    clock.advance(3600)
    assert not worker.run_one()


@handler("test.permanent")
def permanent(ctx: JobContext) -> None:
    raise PermanentJobError("payload names no template")


def test_permanent_error_fails_at_once(store: Store) -> None:
    job_id = add(store, "test.permanent", max_attempts=5)
    assert Worker(store, kinds=["test.permanent"]).run_one()
    assert job(store, job_id).state == "failed" and job(store, job_id).attempts == 1


def test_expired_lease_is_taken_over_and_the_stale_worker_is_fenced(
    store: Store, side_effects: Callable[[], list[tuple[int, int, int]]]
) -> None:
    clock = Clock()
    stale = Worker(store, kinds=["test.side_effect"], lease_seconds=30, clock=clock)
    job_id = add(store, "test.side_effect")
    claim = stale.claim()
    assert claim is not None and claim.id == job_id
    assert Worker(store, kinds=["test.side_effect"], clock=clock).claim() is None  # leased
    clock.advance(31)
    fresh = Worker(store, kinds=["test.side_effect"], clock=clock)
    taken = fresh.claim()
    assert taken is not None and taken.id == job_id and taken.attempt == 2
    stale._execute(claim)  # the stalled worker wakes up: its work must not count
    assert side_effects() == []
    fresh._execute(taken)
    assert [(j, a) for j, a, _ in side_effects()] == [(job_id, 2)]
    assert job(store, job_id).state == "done"


def test_job_whose_workers_keep_dying_fails_after_max_attempts(store: Store) -> None:
    clock = Clock()
    job_id = add(store, "test.side_effect", max_attempts=2)
    for _ in range(2):
        assert Worker(store, kinds=["test.side_effect"], lease_seconds=5, clock=clock).claim()
        clock.advance(6)
    assert Worker(store, kinds=["test.side_effect"], clock=clock).run_one()
    dead = job(store, job_id)
    assert dead.state == "failed" and "gave up after 2 attempts" in (dead.last_error or "")


steps_done: list[tuple[int, int]] = []


@handler("test.steps", backoff_base=0.01)
def steps(ctx: JobContext) -> None:
    start = (ctx.progress or {}).get("next", 0)
    for step in range(start, 4):
        if step == 2 and ctx.attempt == 1:
            raise RuntimeError("crash in the middle")
        steps_done.append((ctx.attempt, step))
        ctx.checkpoint({"next": step + 1})


def test_checkpointed_progress_resumes_after_a_failure(store: Store) -> None:
    steps_done.clear()
    clock = Clock()
    worker = Worker(store, kinds=["test.steps"], clock=clock)
    job_id = add(store, "test.steps")
    assert worker.run_one()
    assert job(store, job_id).progress == {"next": 2}
    clock.advance(1)
    assert worker.run_one()
    assert steps_done == [(1, 0), (1, 1), (2, 2), (2, 3)]
    assert job(store, job_id).state == "done"


def test_jobs_of_unknown_kinds_are_left_for_a_worker_that_knows_them(store: Store) -> None:
    job_id = add(store, "test.nobody_handles_this")
    assert not Worker(store, kinds=["test.side_effect"]).run_one()
    assert job(store, job_id).state == "queued"


def test_embedded_worker_thread_runs_jobs_and_stops(
    store: Store, side_effects: Callable[[], list[tuple[int, int, int]]]
) -> None:
    job_id = add(store, "test.side_effect")
    thread = jobs.WorkerThread(store, kinds=["test.side_effect"], poll_interval=0.05)
    thread.start()
    deadline = time.monotonic() + 20
    while job(store, job_id).state != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    thread.stop()
    assert not thread.is_alive()
    assert job(store, job_id).state == "done" and len(side_effects()) == 1
    with store.reader() as session:
        assert jobs.count_by_state(session) == {"queued": 0, "running": 0, "done": 1, "failed": 0}


# -- real processes -----------------------------------------------------------------------


def pledge_worker(*args: str, log: Path) -> subprocess.Popen[bytes]:
    script = Path(sys.executable).with_name("pledge")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from pledge.cli import main; main()"]
    )
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [*command, "worker", "--import", "store_job_handlers", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()}")
        time.sleep(0.05)


def test_killed_worker_job_completes_exactly_once(
    store_env: Store,
    side_effects: Callable[[], list[tuple[int, int, int]]],
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    store, log = store_env, tmp_path / "worker.log"
    markers = tmp_path / "markers"
    markers.mkdir()
    job_id = add(store, "test.side_effect", {"marker_dir": str(markers), "sleep_first": 120})
    options = ("--lease-seconds", "2", "--poll-interval", "0.1")

    first = pledge_worker(*options, log=log)
    workers.append(first)
    wait_until(lambda: (markers / f"{job_id}-1").exists(), 60, "the first attempt", log)
    first.send_signal(signal.SIGKILL)  # mid-job: side effect written, not committed
    first.wait()
    assert side_effects() == []
    assert job(store, job_id).state == "running"

    second = pledge_worker(*options, log=log)
    workers.append(second)
    wait_until(lambda: job(store, job_id).state == "done", 60, "the takeover", log)
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0, log.read_text()

    effects = side_effects()
    assert [(j, a) for j, a, _ in effects] == [(job_id, 2)]
    assert effects[0][2] == second.pid
    assert job(store, job_id).attempts == 2


def test_two_workers_do_fifty_jobs_exactly_once(
    store_env: Store,
    side_effects: Callable[[], list[tuple[int, int, int]]],
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    # PostgreSQL: SKIP LOCKED claims in parallel; SQLite: claims queue on its one writer.
    store = store_env
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    for log in logs:
        workers.append(pledge_worker("--concurrency", "2", "--poll-interval", "0.05", log=log))
    for log in logs:  # both are polling before the first job exists
        wait_until(lambda log=log: "worker up" in log.read_text(), 60, "worker start", log)
    with store.transaction() as session:
        ids = [enqueue(session, "test.side_effect", {"sleep": 0.1}) for _ in range(50)]

    def all_done() -> bool:
        with store.reader() as session:
            left = session.execute(text("SELECT count(*) FROM jobs WHERE state <> 'done'"))
            return left.scalar() == 0

    wait_until(all_done, 120, "50 jobs", logs[0])
    for process in workers:
        process.send_signal(signal.SIGTERM)
    for process, log in zip(workers, logs, strict=True):
        assert process.wait(30) == 0, log.read_text()
    effects = side_effects()
    assert sorted(j for j, _, _ in effects) == sorted(ids)  # each job's effect exactly once
    if store.is_postgres:
        by_pid = {p.pid: sum(pid == p.pid for _, _, pid in effects) for p in workers}
        assert all(by_pid.values()), f"one worker did everything: {by_pid}"  # both took part
