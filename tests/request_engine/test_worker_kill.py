"""A real `pledge worker` killed (SIGKILL) in the middle of an erasure, and a second one that
finishes it: the request completes, exactly the person's rows are gone or masked, everyone
else's are byte-identical, and no erasure step is applied or recorded twice.

The kill is deterministic without test hooks in Pledge: a trigger in the shop's PostgreSQL
database stalls any UPDATE or DELETE of `orders` (a mid-graph collection: its children are
erased before it, its parents after) in `pg_sleep`. The test waits until the steps before
it are checkpointed in the store and the worker sits in that sleep, then kills it. The
stalled transaction in the shop database dies with the worker's connection.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dsr_shop import (
    ALICE,
    ALICE_ACCESS,
    ALICE_DELETED,
    ALICE_MASKED,
    ENV_VARS,
    assert_only_alice_erased,
    create_shop,
    database,
    execute,
    manifest_copy,
    snapshot,
)
from sqlalchemy import select

from pledge.manifest.load import load_manifest
from pledge.requests import service
from pledge.requests.tables import DataRequest
from pledge.store import audit
from pledge.store.db import Store
from pledge.store.tables import AuditEvent, Job, Subject

pytestmark = pytest.mark.integration

STALLED = "erase:shop.orders"
BEFORE_STALL = "erase:shop.order_contacts"  # the last step erased before orders
STALL = """
CREATE FUNCTION pledge_test_stall() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(600);
  RETURN NULL;
END $$;
CREATE TRIGGER stall BEFORE UPDATE OR DELETE ON orders
  FOR EACH STATEMENT EXECUTE FUNCTION pledge_test_stall();
"""
# One erase step per controller collection (the processor's `tenant_users` has none).
PLAN_STEPS = {"collect", "verify", *(f"erase:{node}" for node in ALICE_ACCESS)}


@pytest.fixture
def shop_pg(tmp_path: Path) -> Iterator[str]:
    """The shop in a fresh PostgreSQL database, with the stalling trigger on `orders`."""
    with database("postgres", tmp_path) as url:
        create_shop(url)
        execute(url, STALL)
        yield url


def pledge_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    script = Path(sys.executable).with_name("pledge")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from pledge.cli import main; main()"]
    )
    options = ["--lease-seconds", "2", "--poll-interval", "0.1"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*command, "worker", *options], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_until(condition: Callable[[], bool], what: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()}")
        time.sleep(0.05)


def done_steps(store: Store, request_id: str) -> list[str]:
    with store.reader() as session:
        return [s.name for s in service.steps_of(session, request_id) if s.state == "done"]


def sleeping_in(url: str) -> int:
    """Backends of the shop database stalled in the trigger's pg_sleep."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event = 'PgSleep'",
            (name,),
        ).fetchone()
    return int(row[0]) if row else 0


def end_stall(url: str) -> None:
    """The killed worker's shop connection sleeps on: end it (rolling back), drop the trigger."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    execute(url, "DROP TRIGGER stall ON orders")


def step_events(store: Store, request_id: str) -> list[dict[str, Any]]:
    with store.reader() as session:
        query = select(AuditEvent).where(
            AuditEvent.action == "request.erasure_step", AuditEvent.object_id == request_id
        )
        return [json.loads(e.details) for e in session.scalars(query.order_by(AuditEvent.seq))]


def test_killed_worker_resumes_the_erasure_without_repeating_a_step(
    store_env: Store, shop_pg: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    store, log = store_env, tmp_path / "worker.log"
    path = manifest_copy("postgres", tmp_path)
    manifest = load_manifest(path)
    env = {**os.environ, "PLEDGE_MANIFEST": str(path), **dict.fromkeys(ENV_VARS, shop_pg)}
    before = snapshot(shop_pg)
    store.vault  # noqa: B018  (opened outside any transaction, as the CLI does)
    intake = service.Intake(kind="erasure", email=ALICE, country="NO", channel="staff")
    with store.transaction() as session:
        rid = service.submit(
            session,
            manifest,
            intake,
            actor="cli:test",
            public_url="https://p.example",
            verified=True,
            reason="Checked her passport at the desk",
        ).id
        service.approve(session, rid, actor="cli:officer")  # four eyes: someone else approves

    first = pledge_worker(env, log)
    workers.append(first)
    wait_until(lambda: BEFORE_STALL in done_steps(store, rid), "the first steps", log)
    wait_until(lambda: sleeping_in(shop_pg) == 1, "the stall in erase:shop.orders", log)
    checkpointed = done_steps(store, rid)
    first.send_signal(signal.SIGKILL)
    first.wait()
    end_stall(shop_pg)

    # Killed mid-step: the checkpointed steps are done in the shop, the stalled one is not.
    assert "collect" in checkpointed and STALLED not in checkpointed
    middle = snapshot(shop_pg)
    assert not ALICE_DELETED["order_contacts"] & set(middle["order_contacts"])
    assert middle["orders"] == before["orders"]
    assert done_steps(store, rid) == checkpointed

    second = pledge_worker(env, log)
    workers.append(second)

    def finished() -> bool:
        with store.reader() as session:
            req = session.get(DataRequest, rid, populate_existing=True)
            left = select(Job.id).where(Job.state != "done", Job.kind != service.PURGE_JOB)
            queued = session.execute(left).first()  # the mails too; the purge is a week away
            return req is not None and req.state in ("completed", "failed") and queued is None

    wait_until(finished, "the second worker to finish the request", log)
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0, log.read_text()

    with store.reader() as session:
        req = session.get(DataRequest, rid)
        assert req is not None and req.state == "completed", req.result
        execution = session.get(Job, req.job_id)
        subject = session.get(Subject, req.subject_id)
    assert execution is not None and execution.attempts == 2  # killed once, then finished
    assert subject is not None and subject.shredded_at is not None

    # The shop: exactly Alice's rows gone or masked; every other row byte-identical.
    assert_only_alice_erased(before, snapshot(shop_pg))

    # Each step recorded once, in the steps table and in the audit log.
    steps = done_steps(store, rid)
    assert Counter(steps) == Counter([*PLAN_STEPS, "shred"])
    events = step_events(store, rid)
    assert Counter(e["step"] for e in events) == Counter(PLAN_STEPS)
    assert [e["step"] for e in events] == [s for s in steps if s != "shred"]
    assert [e["step"] for e in events][: len(checkpointed)] == checkpointed

    # The report counts what was done once, not what was tried twice.
    assert req.result is not None
    report = {c["collection"]: c for c in req.result["erasure"]["collections"]}
    for table, collection in report.items():
        masked = ALICE_MASKED.get(table, {})
        assert collection["rows_deleted"] == len(ALICE_DELETED.get(table, ())), table
        assert collection["fields_changed"] == sum(map(len, masked.values())), table
    orders = next(e for e in events if e["step"] == STALLED)
    assert orders["fields_changed"] == report["orders"]["fields_changed"]
    assert req.result["fields_changed"] == sum(c["fields_changed"] for c in report.values())

    assert audit.verify(store).ok  # the kill left the audit chain whole
    with store.reader() as session:
        details = session.execute(select(AuditEvent.details)).scalars().all()
    assert not any(ALICE in d or "Alice" in d for d in details)
