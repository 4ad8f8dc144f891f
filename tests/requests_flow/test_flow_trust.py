"""Staff attestation needs a reason and a second person; reads are audited; hostile input.

Four eyes: a support agent may enter a request as verified (they checked the person by post or
phone) but it waits for approval by a role that may approve, never by the one who attested.
Every read of a request's personal data (package, details) leaves an audit event. Bad
addresses are a clear 422, a wrong code costs the same work as an unknown request, and CSV
cells in packages cannot run as spreadsheet formulas.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import sqlite3
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from flowsupport import (
    ALICE,
    BOB,
    DOWNLOAD_LINK,
    click_download,
    confirmed_request,
    dump,
    latest_code,
    link_in,
    mails_to,
    run_jobs,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from pledge.manifest.model import Manifest
from pledge.requests import package, service, verification
from pledge.store import audit
from pledge.store.db import Store
from pledge.store.tables import AuditEvent

ATTESTED = {"kind": "erasure", "email": ALICE, "country": "NO", "verified": True}


def events(store: Store, action: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    with store.reader() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return [(e.actor, e.object_id, json.loads(e.details)) for e in session.scalars(query)]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# --- four eyes --------------------------------------------------------------------------------


def test_an_agent_s_attested_erasure_waits_for_an_officer(
    client: tuple[TestClient, str],
    flow_store: Store,
    product: dict[str, str],
    support_agent: dict[str, str],
) -> None:
    c, secret = client
    before = dump(product["FLOW_APP_URL"])
    body = {**ATTESTED, "reason": "Passport seen at the front desk"}
    entered = c.post("/v1/requests/staff", headers=support_agent, json=body)
    assert entered.status_code == 201, entered.text
    rid = entered.json()["id"]
    assert entered.json()["state"] == "awaiting_approval"
    run_jobs(flow_store)
    assert dump(product["FLOW_APP_URL"]) == before  # nothing ran
    # The agent may not approve at all; the officer may.
    assert c.post(f"/v1/requests/{rid}/approve", headers=support_agent).status_code == 403
    approved = c.post(f"/v1/requests/{rid}/approve", headers=bearer(secret))
    assert approved.status_code == 200 and approved.json()["state"] == "in_progress"
    run_jobs(flow_store)
    after = dump(product["FLOW_APP_URL"])
    assert ALICE not in str(after["users"]) and BOB in str(after["users"])
    ((attester, _, attested),) = events(flow_store, "request.attested")
    ((approver, _, approval),) = events(flow_store, "request.approved")
    assert attester != approver and approval == {"attested_by": attester}
    assert attested["identities"] == ["email"] and "Passport" not in json.dumps(attested)
    assert attested["reason_chars"] == len(body["reason"])


def test_whoever_attested_cannot_approve(
    client: tuple[TestClient, str], flow_store: Store, second_officer: dict[str, str]
) -> None:
    c, secret = client
    entered = c.post("/v1/requests/staff", headers=bearer(secret), json={**ATTESTED, "reason": "x"})
    rid = entered.json()["id"]
    own = c.post(f"/v1/requests/{rid}/approve", headers=bearer(secret))
    assert own.status_code == 403 and own.json()["type"].endswith("/four-eyes")
    assert c.post(f"/v1/requests/{rid}/approve", headers=second_officer).status_code == 200


def test_attesting_needs_a_reason_and_covers_the_identities_given(
    client: tuple[TestClient, str], support_agent: dict[str, str], flow_store: Store
) -> None:
    c, _ = client
    bare = c.post("/v1/requests/staff", headers=support_agent, json=ATTESTED)
    assert bare.status_code == 422 and bare.json()["errors"][0]["pointer"] == "/reason"
    # Unattested, an extra identity cannot be proven by the code to the e-mail: refused.
    unproven = {**ATTESTED, "verified": False, "identities": {"user_id": "2"}}
    answer = c.post("/v1/requests/staff", headers=support_agent, json=unproven)
    assert answer.status_code == 422, answer.text
    # The fixture's rights take only the e-mail: another kind is refused, attested or not.
    other = {**ATTESTED, "reason": "x", "identities": {"user_id": "2"}}
    refused = c.post("/v1/requests/staff", headers=support_agent, json=other)
    assert refused.status_code == 422
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/identities/user_id"]
    with flow_store.reader() as session:
        assert service.list_requests(session, service.Filter()) == []


# --- reads are audited ------------------------------------------------------------------------


def test_package_downloads_and_details_are_audited(
    client: tuple[TestClient, str], flow_store: Store, manifest: Manifest
) -> None:
    c, secret = client
    done = confirmed_request(flow_store, manifest, "access")
    run_jobs(flow_store)
    auth = bearer(secret)
    staff = c.get(f"/v1/requests/{done.id}/package", headers=auth, params={"purpose": "DSAR audit"})
    assert staff.status_code == 200
    shown = c.get(f"/v1/requests/{done.id}", headers=auth)
    assert shown.status_code == 200
    mail = next(m for m in mails_to(flow_store, ALICE) if "/download/" in str(m))
    assert click_download(c, link_in(mail, DOWNLOAD_LINK)).status_code == 200
    reads = events(flow_store, "request.read")
    assert [(actor.startswith("api:"), rid) for actor, rid, _ in reads] == [
        (True, done.id),
        (True, done.id),
        (False, done.id),
    ]
    (_, _, first), (_, _, second), (subject_actor, _, third) = reads
    with flow_store.reader() as session:
        subject = service.get(session, done.id).subject_id
    assert first == {
        "read": ["access_package"],
        "subject": subject,
        "collections": ["app.orders", "app.users"],
        "purpose": "DSAR audit",
    }
    assert second == {"read": ["notes", "request", "result", "steps"], "subject": subject}
    assert subject_actor == "subject" and third["read"] == ["access_package"]
    assert ALICE not in json.dumps([r[2] for r in reads])
    # A purpose is a label, not a note about the person.
    bad = c.get(f"/v1/requests/{done.id}", headers=auth, params={"purpose": ALICE})
    assert bad.status_code == 422


# --- e-mail addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["a@[b", "a@[b.c", "a@[1.2.3.4]", "a@b..c", "a@-b.c", "a b@c.d"]
)
def test_bad_addresses_are_422_beside_the_field(
    client: tuple[TestClient, str], address: str
) -> None:
    c, _ = client
    answer = c.post("/v1/requests", json={"kind": "access", "email": address, "country": "NO"})
    assert answer.status_code == 422, answer.text
    assert [e["pointer"] for e in answer.json()["errors"]] == ["/email"]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.one_of(
        st.text(max_size=40),
        st.builds(
            lambda a, b: f"{a}@{b}",
            st.text(min_size=1, max_size=12),
            st.text(min_size=1, max_size=16),
        ),
    )
)
def test_no_address_gives_a_500(client: tuple[TestClient, str], address: str) -> None:
    c, _ = client
    answer = c.post("/v1/requests", json={"kind": "access", "email": address, "country": "NO"})
    assert answer.status_code in (202, 422), (address, answer.text)


@given(st.text(max_size=60))
def test_an_accepted_address_parses_as_a_mail_recipient(text: str) -> None:
    from email.headerregistry import Address

    try:
        address = service.check_address(text)
    except service.AddressError:
        return
    assert Address(addr_spec=address).addr_spec == address


# --- verification: the same work for a wrong code and an unknown request ---------------------


_ORIGINAL: dict[str, Callable[..., Any]] = {
    "digest": verification._digest,
    "compare": hmac.compare_digest,
    "audit": audit.append,
}


@contextmanager
def counted(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts digests, comparisons, audit events and SQL statements (by verb)."""
    seen: Counter[str] = Counter()

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counting(*args: Any, **kwargs: Any) -> Any:
            seen[name] += 1
            return fn(*args, **kwargs)

        return counting

    monkeypatch.setattr(verification, "_digest", wrap("digest", _ORIGINAL["digest"]))
    monkeypatch.setattr(hmac, "compare_digest", wrap("compare", _ORIGINAL["compare"]))
    monkeypatch.setattr(audit, "append", wrap("audit", _ORIGINAL["audit"]))

    def statement(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        seen["sql:" + sql.split()[0].upper()] += 1

    event.listen(store.engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", statement)


def test_a_wrong_code_does_the_work_of_an_unknown_request(
    flow_store: Store, manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = service.Intake(kind="access", email=ALICE, country="NO")
    with flow_store.transaction() as session:
        done = service.submit(
            session, manifest, intake, actor="subject", public_url="https://p.example"
        )
    work = []
    for request_id in (done.id, "00000000-0000-0000-0000-000000000000"):
        with counted(flow_store, monkeypatch) as seen, flow_store.transaction() as session:
            result = service.verify(session, manifest, request_id, "12345678")
        assert result.outcome in ("wrong", "missing")
        work.append(seen)
    wrong, unknown = work
    assert wrong == unknown
    assert wrong["digest"] == 2 and wrong["compare"] == 1 and wrong["audit"] == 1
    assert wrong["sql:UPDATE"] == 1


# --- CSV cells ----------------------------------------------------------------------------------


def test_formula_cells_in_the_package_are_neutralised(
    flow_store: Store, manifest: Manifest, product: dict[str, str]
) -> None:
    formula = '=HYPERLINK("https://evil.example","click")'
    with sqlite3.connect(product["FLOW_APP_URL"].removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE users SET name = ? WHERE email = ?", (formula, ALICE))
        conn.execute("UPDATE orders SET note = ? WHERE id = 10", ("@SUM(A1)",))
        conn.execute("UPDATE orders SET note = ? WHERE id = 11", ("-2+3",))
    done = confirmed_request(flow_store, manifest, "access")
    run_jobs(flow_store)
    with flow_store.transaction() as session:
        _, content = package.open_package(session, done.id, actor="test")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        users = archive.read("csv/app__app.users.csv").decode()
        orders = archive.read("csv/app__app.orders.csv").decode()
    (user,) = list(csv.DictReader(io.StringIO(users)))
    assert user["name"] == "'" + formula
    notes = sorted(r["note"] for r in csv.DictReader(io.StringIO(orders)))
    assert notes == ["'-2+3", "'@SUM(A1)"]
    assert latest_code(flow_store, ALICE)  # the flow was the ordinary one
