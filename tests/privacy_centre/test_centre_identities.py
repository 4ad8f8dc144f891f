"""Only proven identities start a request (P-G8): the "add someone else's user id" attack.

A stranger controls their own mailbox, so they can verify a request made with it; before this
fix they could add another person's `user_id` and the request ran on it too. Now the API
answers 422 naming the identity, the form shows the error beside the e-mail field, nothing is
stored, and the other person's rows stay byte-identical. Should an intake bug ever let such an
identity through, execution refuses it (the request fails, nothing is read or changed).
"""

from __future__ import annotations

import io
import os
import zipfile
from typing import Any

import pytest
from centresupport import UNKNOWN, Centre, known_person
from flowsupport import latest_code, mails_to, run_jobs
from sqlalchemy import create_engine, inspect, select, text

from pledge.demo import Person
from pledge.requests import package, service
from pledge.requests.tables import DataRequest, RequestPackage

KINDS = ("access", "erasure", "rectification", "objection")


def product(centre: Centre) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of every product database, to compare before and after."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for key, connection in centre.manifest.connections.items():
        if not connection.url_env or connection.url_env not in os.environ:
            continue
        engine = create_engine(os.environ[connection.url_env])
        try:
            with engine.connect() as conn:
                for table in inspect(conn).get_table_names():
                    found = conn.execute(text(f'SELECT * FROM "{table}"')).fetchall()
                    rows[f"{key}.{table}"] = sorted((tuple(r) for r in found), key=repr)
        finally:
            engine.dispose()
    return rows


def body_for(kind: str, victim: Person) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": kind,
        "email": UNKNOWN,
        "country": "NO",
        "identities": {"user_id": victim.user_id},
    }
    if kind == "rectification":
        body["corrections"] = {"user.name": "Mallory"}
    return body


@pytest.mark.parametrize("kind", KINDS)
def test_the_api_refuses_an_identity_nobody_can_prove(centre: Centre, kind: str) -> None:
    victim = known_person()
    before = product(centre)
    answer = centre.client.post("/v1/requests", json=body_for(kind, victim))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"].endswith("/identity-unproven")
    assert [e["pointer"] for e in problem["errors"]] == ["/identities/user_id"]
    assert victim.user_id not in answer.text
    run_jobs(centre.store)
    assert centre.requests_stored() == 0 and mails_to(centre.store, UNKNOWN) == []
    assert product(centre) == before


def test_the_stranger_s_own_request_gets_nothing_of_the_other_person(centre: Centre) -> None:
    """Refused with the extra identity, the stranger asks with their own address only: the
    package holds nothing of the person whose user id they tried."""
    victim = known_person()
    refused = centre.client.post("/v1/requests", json=body_for("access", victim))
    assert refused.status_code == 422
    own = centre.client.post(
        "/v1/requests", json={"kind": "access", "email": UNKNOWN, "country": "NO"}
    )
    assert own.status_code == 202
    run_jobs(centre.store)
    code = latest_code(centre.store, UNKNOWN)
    assert (
        centre.client.post(
            f"/v1/requests/{own.json()['id']}/verify", json={"code": code}
        ).status_code
        == 200
    )
    run_jobs(centre.store)
    with centre.store.transaction() as session:
        _, content = package.open_package(session, own.json()["id"], actor="test")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        everything = " ".join(archive.read(n).decode() for n in archive.namelist())
    for value in (victim.user_id, victim.email, victim.last, victim.phone):
        assert value not in everything


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("access", "user_id"),
        ("erasure", "customer_id"),
        ("rectification", "identities[user_id]"),
        ("objection", "identity"),
    ],
)
def test_the_form_refuses_an_extra_identity_beside_the_email(
    centre: Centre, kind: str, field: str
) -> None:
    victim = known_person()
    before = product(centre)
    extra = {"details": "My name is wrong"} if kind == "rectification" else {}
    answer = centre.submit(kind=kind, email=UNKNOWN, **extra, **{field: victim.user_id})
    assert answer.status_code == 422
    page = answer.text
    message = "Only your e-mail address can be checked here"
    assert message in page
    # Beside the e-mail field (besides the summary on top): after its label, before its input.
    label = page.index('for="email"')
    assert label < page.index(message, label) < page.index('id="email"')
    run_jobs(centre.store)
    assert centre.requests_stored() == 0 and product(centre) == before


def test_execution_refuses_an_identity_nobody_proved(
    centre: Centre, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future intake bug that lets an extra identity through does not reopen the hole."""
    victim = known_person()

    def careless(intake: service.Intake, *_: Any) -> dict[str, str]:
        return dict(intake.identities)

    monkeypatch.setattr(service, "_check_identities", careless)
    before = product(centre)
    for kind in ("access", "erasure"):
        answer = centre.client.post("/v1/requests", json=body_for(kind, victim))
        assert answer.status_code == 202, answer.text
        run_jobs(centre.store)
        rid = answer.json()["id"]
        code = latest_code(centre.store, UNKNOWN)
        verified = centre.client.post(f"/v1/requests/{rid}/verify", json={"code": code})
        assert verified.status_code == 200
        run_jobs(centre.store)
        with centre.store.reader() as session:
            req = session.get(DataRequest, rid)
            assert req is not None and req.state == "failed"
            assert req.result == {"failure": {"error": "unproven_identity", "kinds": ["user_id"]}}
            assert (
                session.scalar(select(RequestPackage).where(RequestPackage.request_id == rid))
                is None
            )
    assert product(centre) == before


@pytest.mark.parametrize("address", ["a@[b", "a@[b.c", "a@b..c"])
def test_the_form_shows_a_bad_address_beside_the_field(centre: Centre, address: str) -> None:
    answer = centre.submit(kind="access", email=address)
    assert answer.status_code == 422
    label = answer.text.index('for="email"')
    message = "Enter an e-mail address in the form name@example.com."
    assert label < answer.text.index(message, label) < answer.text.index('id="email"')
    assert centre.requests_stored() == 0
