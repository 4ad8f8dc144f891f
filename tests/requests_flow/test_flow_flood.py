"""The public intake cannot be used to flood someone's mailbox: past the daily limit it answers
the same, mails nothing and starts nothing, and staff entry is never limited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from flowsupport import ALICE, mails_to, run_jobs
from sqlalchemy import select

from pledge.requests.service import MAIL_LIMIT_PER_DAY
from pledge.requests.tables import DataRequest
from pledge.store.db import Store
from pledge.store.tables import AuditEvent

BOB = "bob@example.org"


def _ask(c: TestClient, email: str, kind: str = "access") -> dict[str, object]:
    where = {"jurisdiction": "us-ca"} if kind == "opt_out_sale_sharing" else {"country": "NO"}
    answer = c.post("/v1/requests", json={"kind": kind, "email": email, **where})
    assert answer.status_code == 202
    body: dict[str, object] = answer.json()
    return body


def test_intake_past_the_daily_limit_mails_nothing(
    client: tuple[TestClient, str], flow_store: Store
) -> None:
    c, _ = client
    answers = [_ask(c, ALICE) for _ in range(MAIL_LIMIT_PER_DAY + 3)]
    assert {frozenset(a) for a in answers} == {frozenset(answers[0])}
    assert {a["state"] for a in answers} == {"unverified"}
    _ask(c, BOB)
    run_jobs(flow_store)
    # Each request within the limit got its receipt and its code; the rest got nothing.
    assert len(mails_to(flow_store, ALICE)) == 2 * MAIL_LIMIT_PER_DAY
    assert len(mails_to(flow_store, BOB)) == 2  # someone else is not affected
    with flow_store.reader() as session:
        withheld = session.scalars(
            select(AuditEvent.object_id).where(AuditEvent.action == "request.mail_withheld")
        ).all()
        assert len(withheld) == 3
        kept = session.scalars(select(DataRequest).where(DataRequest.id.in_(withheld))).all()
        assert {r.state for r in kept} == {"unverified"}  # kept, to be purged unverified


def test_an_opt_out_past_the_limit_does_not_start(
    client: tuple[TestClient, str], flow_store: Store
) -> None:
    c, _ = client
    for _ in range(MAIL_LIMIT_PER_DAY):
        _ask(c, ALICE)
    late = _ask(c, ALICE, kind="opt_out_sale_sharing")
    with flow_store.reader() as session:
        req = session.get(DataRequest, str(late["id"]))
        assert req is not None and req.state == "unverified" and req.job_id is None


def test_staff_entry_is_not_limited(client: tuple[TestClient, str], flow_store: Store) -> None:
    c, secret = client
    for _ in range(MAIL_LIMIT_PER_DAY):
        _ask(c, ALICE)
    entered = c.post(
        "/v1/requests/staff",
        json={"kind": "access", "email": ALICE, "country": "NO"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert entered.status_code == 201
    run_jobs(flow_store)
    assert len(mails_to(flow_store, ALICE)) == 2 * MAIL_LIMIT_PER_DAY + 2
