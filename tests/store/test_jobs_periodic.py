"""Periodic jobs (one per window however many workers ask) and payloads scrubbed when done."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pledge.store import Store
from pledge.store.jobs import (
    JobContext,
    Periodic,
    Worker,
    enqueue,
    find_by_key,
    get_job,
    handler,
    periodic,
)
from pledge.store.tables import Job

ran: list[str] = []


@handler("test.tick")
def tick(ctx: JobContext) -> None:
    ran.append(ctx.payload["window"])


periodic("test.tick", timedelta(hours=1))


@handler("test.secret", keep=("kind",))
def secret(ctx: JobContext) -> None:
    if ctx.payload.get("fail"):
        raise RuntimeError("could not deliver")


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute, tzinfo=UTC)


def test_windows_are_aligned_and_keyed() -> None:
    spec = Periodic("test.tick", timedelta(hours=1))
    assert spec.window(at(10, 59)) == at(10) == spec.window(at(10))
    assert spec.key(at(10, 30)) == "periodic:test.tick:2026-11-23T10:00:00Z"
    assert spec.key(at(11)) != spec.key(at(10, 59))
    with pytest.raises(ValueError, match="once a minute"):
        periodic("test.too_often", timedelta(seconds=5))


def test_many_workers_make_one_job_per_window(store: Store) -> None:
    ran.clear()
    clock = [at(10, 5)]
    workers = [
        Worker(store, kinds=["test.tick"], periodic=True, clock=lambda: clock[0]) for _ in range(3)
    ]
    for worker in workers:
        worker.run(threading.Event(), once=True)
    assert ran == [at(10).isoformat()]
    assert workers[0].schedule() == []  # the same window: not even asked again
    clock[0] = at(11, 1)
    for worker in workers:
        worker.run(threading.Event(), once=True)
    assert ran == [at(10).isoformat(), at(11).isoformat()]
    with store.reader() as session:
        assert find_by_key(session, "periodic:test.tick:2026-11-23T11:00:00Z") is not None


def test_workers_schedule_only_when_asked_and_only_their_kinds(store: Store) -> None:
    Worker(store, kinds=["test.tick"]).run(threading.Event(), once=True)
    Worker(store, kinds=["test.secret"], periodic=True).run(threading.Event(), once=True)
    with store.reader() as session:
        assert session.execute(select(Job)).first() is None


def test_a_done_job_keeps_only_the_named_keys_and_a_failed_one_all(store: Store) -> None:
    payload = {"kind": "receipt", "to": "ada@example.org", "body": "your code is 602214"}
    with store.transaction() as session:
        done = enqueue(session, "test.secret", payload)
        failed = enqueue(session, "test.secret", {**payload, "fail": True}, max_attempts=1)
    Worker(store, kinds=["test.secret"]).run(threading.Event(), once=True)
    with store.reader() as session:
        finished, kept = get_job(session, done), get_job(session, failed)
    assert finished is not None and finished.state == "done"
    assert finished.payload == {"kind": "receipt"}
    assert kept is not None and kept.state == "failed" and kept.payload["to"] == payload["to"]
