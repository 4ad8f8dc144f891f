"""Intake, verification, the state machine, deadlines, erasure, flags and purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flowsupport import ALICE, BOB, dump, latest_code, mails_to, run_jobs
from sqlalchemy import select

from pledge.consent.ids import vault_subject
from pledge.consent.limits import limits_of
from pledge.consent.records import NewChoice
from pledge.consent.service import service_for
from pledge.manifest.model import Manifest
from pledge.requests import flags, service, verification
from pledge.requests.engine import Engine
from pledge.requests.handlers import purge_request
from pledge.requests.tables import DataRequest
from pledge.store.db import Store
from pledge.store.tables import AuditEvent, Subject, utcnow


def submit(
    store: Store, manifest: Manifest, email: str = ALICE, **fields: object
) -> service.Submitted:
    values: dict[str, object] = {"kind": "access", "country": "NO", **fields}
    intake = service.Intake(email=email, **values)  # type: ignore[arg-type]
    with store.transaction() as session:
        return service.submit(
            session, manifest, intake, actor="subject", public_url=store.settings.public_url
        )


def get(store: Store, request_id: str) -> DataRequest:
    with store.reader() as session:
        req = session.get(DataRequest, request_id)
        assert req is not None
        return req


def test_known_and_unknown_people_get_the_same_answer(
    flow_store: Store, manifest: Manifest
) -> None:
    known = submit(flow_store, manifest, ALICE)
    unknown = submit(flow_store, manifest, "nobody@example.org")
    assert known.state == unknown.state == "unverified"
    assert known.due_at - unknown.due_at < timedelta(seconds=5)
    assert len(known.token) == len(unknown.token)
    run_jobs(flow_store)
    # both got a receipt and a code, in the same shape
    assert len(mails_to(flow_store, ALICE)) == len(mails_to(flow_store, "nobody@example.org")) == 2


def test_kind_not_offered_in_jurisdiction(flow_store: Store, manifest: Manifest) -> None:
    with pytest.raises(service.RequestError, match="not offered"):
        submit(flow_store, manifest, kind="opt_out_sale_sharing")  # eu: no


def test_verification_wrong_expired_lockout(flow_store: Store, manifest: Manifest) -> None:
    done = submit(flow_store, manifest)
    run_jobs(flow_store)
    code = latest_code(flow_store, ALICE)
    wrong = "00000000" if code != "00000000" else "11111111"
    with flow_store.transaction() as session:
        first = service.verify(session, manifest, done.id, wrong)
    assert first.outcome == "wrong" and first.attempts_left == verification.MAX_ATTEMPTS - 1
    for _ in range(verification.MAX_ATTEMPTS - 1):
        with flow_store.transaction() as session:
            result = service.verify(session, manifest, done.id, wrong)
    assert result.outcome == "locked"
    with flow_store.transaction() as session:  # the right code does not open a lock
        assert service.verify(session, manifest, done.id, code).outcome == "locked"
    after_lock = utcnow() + verification.LOCKOUT + timedelta(seconds=1)
    with flow_store.transaction() as session:
        assert service.verify(session, manifest, done.id, code, now=after_lock).outcome == "ok"
    assert get(flow_store, done.id).state == "in_progress"


def test_code_expires(flow_store: Store, manifest: Manifest) -> None:
    done = submit(flow_store, manifest)
    run_jobs(flow_store)
    code = latest_code(flow_store, ALICE)
    later = utcnow() + verification.CODE_TTL + timedelta(seconds=1)
    with flow_store.transaction() as session:
        assert service.verify(session, manifest, done.id, code, now=later).outcome == "expired"
    assert get(flow_store, done.id).state == "unverified"


def test_unknown_request_id_answers_like_a_bad_code(flow_store: Store, manifest: Manifest) -> None:
    with flow_store.transaction() as session:
        assert service.verify(session, manifest, "no-such-id", "12345678").outcome == "missing"


def test_transitions() -> None:
    assert service.can_transition("unverified", "verified")
    assert service.can_transition("failed", "in_progress")
    for target in ("completed", "in_progress", "awaiting_approval"):
        assert not service.can_transition("unverified", target)
    for state in ("completed", "denied", "forwarded"):
        assert not service.TRANSITIONS.get(state)


def test_forbidden_transition_raises(flow_store: Store, manifest: Manifest) -> None:
    done = submit(flow_store, manifest)
    with pytest.raises(service.TransitionError), flow_store.transaction() as session:
        service.approve(session, done.id, actor="cli:test")
    with pytest.raises(service.TransitionError), flow_store.transaction() as session:
        service.retry(session, done.id, actor="cli:test")


def test_staff_attested_request_with_approval(flow_store: Store, manifest: Manifest) -> None:
    intake = service.Intake(
        kind="objection",
        email=ALICE,
        country="NO",
        channel="staff",
        purposes=("marketing.communications.email",),
    )
    with flow_store.transaction() as session:
        done = service.submit(
            session,
            manifest,
            intake,
            actor="cli:clerk",
            public_url=flow_store.settings.public_url,
            verified=True,
            reason="Checked her passport at the desk",
        )
    assert get(flow_store, done.id).state == "awaiting_approval"
    with flow_store.transaction() as session:
        service.approve(session, done.id, actor="cli:officer")
    run_jobs(flow_store)
    req = get(flow_store, done.id)
    assert req.state == "completed"
    with flow_store.reader() as session:
        assert flags.restrictions_for(session, req.subject_id) == {"marketing.communications.email"}
        limited = flags.restrictions_for(session, req.subject_id)
        assert "marketing.communications.email" in limited
        assert "essential.service.operations" not in limited and "*" not in limited
        # The consent decisions the product asks see the objection too.
        (limit,) = limits_of(session, f"subject:{req.subject_id}")
        assert (limit.kind, limit.purpose, limit.active) == (
            "objection",
            "marketing.communications.email",
            True,
        )
        actions = [
            e.action
            for e in session.execute(
                select(AuditEvent).where(AuditEvent.object_id == done.id)
            ).scalars()
        ]
    assert actions[:5] == [
        "request.received",
        "request.attested",
        "request.verified",
        "request.awaiting_approval",
        "request.approved",
    ]
    assert "request.completed" in actions


def test_opt_out_needs_no_code_and_stops_sharing(flow_store: Store, manifest: Manifest) -> None:
    done = submit(flow_store, manifest, kind="opt_out_sale_sharing", country="US", region="CA")
    assert get(flow_store, done.id).state == "in_progress"
    subject = vault_subject(get(flow_store, done.id).subject_id)
    consent = service_for(flow_store)
    mail = "marketing.communications.email"
    yes = NewChoice(subject, "api", "us-ca", "en", "test", purposes={mail: True})
    consent.record(manifest, yes, "https://pledge.test")
    assert consent.decide(manifest, subject, mail, jurisdiction="global").allowed
    run_jobs(flow_store)
    req = get(flow_store, done.id)
    assert req.state == "completed"
    assert req.due_at - req.received_at < timedelta(days=22)  # 15 business days
    with flow_store.reader() as session:
        assert flags.restrictions_for(session, req.subject_id) == {"sale", "sharing"}
    consent.invalidate(subject)
    # The product's decision honours the opt-out wherever the person is (the purpose is shared
    # with an advertising partner), even over an earlier yes; other purposes are untouched.
    for where in ("us-ca", "global", "eu"):
        decided = consent.decide(manifest, subject, mail, jurisdiction=where)
        assert (decided.allowed, decided.reason) == (False, "opted_out_of_sale_or_sharing")
    assert consent.decide(manifest, subject, "essential.service.operations").allowed
    # Asking again adds nothing.
    again = submit(flow_store, manifest, kind="opt_out_sale_sharing", jurisdiction="us-ca")
    run_jobs(flow_store)
    result = get(flow_store, again.id).result
    assert (result["flags"], result["added"]) == (["sale", "sharing"], 0)


def test_limit_on_sensitive_data_needs_no_code_and_stops_what_the_law_does_not_permit(
    flow_store: Store, manifest: Manifest
) -> None:
    done = submit(flow_store, manifest, kind="limit_sensitive", country="US", region="CA")
    req = get(flow_store, done.id)
    assert req.state == "in_progress"  # the manifest asks for no verification
    assert req.due_at - req.received_at < timedelta(days=22)  # 15 business days
    subject = vault_subject(req.subject_id)
    consent = service_for(flow_store)
    profiling = "personalize.content.profiled"  # uses precise location: sensitive
    yes = NewChoice(subject, "api", "us-ca", "en", "test", purposes={profiling: True})
    consent.record(manifest, yes, "https://pledge.test")
    assert consent.decide(manifest, subject, profiling, jurisdiction="us-ca").allowed
    run_jobs(flow_store)
    req = get(flow_store, done.id)
    assert req.state == "completed", req.result
    assert (req.result["flags"], req.result["added"]) == (["sensitive"], 1)
    consent.invalidate(subject)
    for where in ("us-ca", "global", "eu"):
        decided = consent.decide(manifest, subject, profiling, jurisdiction=where)
        assert (decided.allowed, decided.reason) == (False, "limited_use_of_sensitive_data")
    # Running the service with the same data is a use the law permits: it goes on.
    assert consent.decide(manifest, subject, "essential.service.operations").allowed
    completed = [str(m["Subject"]) for m in mails_to(flow_store, ALICE)]
    assert f"Your privacy request {done.reference} is complete" in completed


def test_limit_on_sensitive_data_is_offered_only_where_the_law_grants_it(
    flow_store: Store, manifest: Manifest
) -> None:
    assert "limit_sensitive" in service.offered_kinds(manifest, "us-ca")
    for where in ("eu", "global"):
        assert "limit_sensitive" not in service.offered_kinds(manifest, where)
        with pytest.raises(service.RequestError, match="not offered"):
            submit(flow_store, manifest, kind="limit_sensitive", jurisdiction=where)


def test_deadlines_extension_and_sla(flow_store: Store, manifest: Manifest) -> None:
    done = submit(flow_store, manifest)
    req = get(flow_store, done.id)
    assert req.extended_due_at is not None and req.extended_due_at > req.due_at
    assert service.sla_of(req) == "on_track"
    assert service.sla_of(req, req.due_at - timedelta(days=2)) == "due_soon"
    assert service.sla_of(req, req.due_at + timedelta(days=1)) == "overdue"
    with pytest.raises(service.RequestError, match="before"), flow_store.transaction() as s:
        service.extend(
            s,
            manifest,
            done.id,
            ["Many systems"],
            actor="cli:officer",
            now=req.due_at + timedelta(days=1),
        )
    with flow_store.transaction() as session:
        service.extend(session, manifest, done.id, ["Many systems"], actor="cli:officer")
    req = get(flow_store, done.id)
    assert req.extended and service.current_due(req) == req.extended_due_at
    with pytest.raises(service.RequestError, match="already"), flow_store.transaction() as s:
        service.extend(s, manifest, done.id, ["Again"], actor="cli:officer")
    run_jobs(flow_store)
    assert any("Many systems" in str(m) for m in mails_to(flow_store, ALICE))


def test_deny_tells_of_the_authority(flow_store: Store, manifest: Manifest) -> None:
    done = submit(flow_store, manifest, language="nb")
    with flow_store.transaction() as session:
        service.deny(session, manifest, done.id, ["Manifestly unfounded"], actor="cli:officer")
    assert get(flow_store, done.id).state == "denied"
    run_jobs(flow_store)
    assert any("Datatilsynet" in str(m) for m in mails_to(flow_store, ALICE))
    with flow_store.reader() as session:
        details = [
            e.details
            for e in session.execute(
                select(AuditEvent).where(AuditEvent.action == "request.denied")
            ).scalars()
        ]
    assert "Manifestly unfounded" not in details[0]


def test_erasure_end_to_end(flow_store: Store, manifest: Manifest, product: dict[str, str]) -> None:
    bob_before = {
        t: [r for r in rows if BOB in map(str, r) or (t == "orders" and r[1] == 2)]
        for t, rows in dump(product["FLOW_APP_URL"]).items()
    }
    hosted_before = dump(product["FLOW_HOSTED_URL"])
    done = submit(flow_store, manifest, kind="erasure")
    run_jobs(flow_store)
    with flow_store.transaction() as session:
        service.verify(session, manifest, done.id, latest_code(flow_store, ALICE))
    run_jobs(flow_store)
    req = get(flow_store, done.id)
    assert req.state == "completed", req.result
    after = dump(product["FLOW_APP_URL"])
    assert not any(
        ALICE in map(str, row) or "Alice" in str(row) for rows in after.values() for row in rows
    )
    for table, rows in bob_before.items():
        assert set(rows) <= set(after[table]), "someone else's rows changed"
    assert dump(product["FLOW_HOSTED_URL"]) == hosted_before, "a processor store was touched"
    engine = Engine.open(manifest, product)
    try:
        assert engine.access({"email": [ALICE]}).collections == ()
    finally:
        engine.close()
    with flow_store.reader() as session:
        subject = session.get(Subject, req.subject_id)
        assert subject is not None and subject.shredded_at is not None
    subjects = [str(m["Subject"]) for m in mails_to(flow_store, ALICE)]
    subjects = [s for s in subjects if done.reference in s]
    # receipt, code, whom to ask about the processor system, and the completion: the last two
    # sent although the subject's key is gone
    assert subjects == [
        f"We have received your privacy request {done.reference}",
        f"Confirm your privacy request {done.reference}",
        f"Your privacy request {done.reference}: who can help you",
        f"Your privacy request {done.reference} is complete",
    ], subjects


def test_unverified_requests_are_purged(flow_store: Store, manifest: Manifest) -> None:
    done = submit(flow_store, manifest, "stranger@example.org")
    with flow_store.transaction() as session:
        req = session.get(DataRequest, done.id)
        assert req is not None
        subject_id = req.subject_id
        purge_request(session, req, utcnow())
    with flow_store.reader() as session:
        assert session.get(DataRequest, done.id) is None
        subject = session.get(Subject, subject_id)
        assert subject is not None and subject.shredded_at is not None
