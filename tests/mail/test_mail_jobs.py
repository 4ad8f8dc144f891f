"""Mail through the job queue: queued in the caller's transaction, sent by a worker, retried
through an SMTP outage, never lost, never sent twice, and never stored readable in the queue."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from smtp_support import REFUSED, SmtpServer, outbox_files
from sqlalchemy import select, text

from pledge.mail import JOB_KIND, MailError, OrgContact, send_later
from pledge.mail.handlers import MAX_ATTEMPTS, decode_context, encode_context
from pledge.store.db import Store
from pledge.store.errors import VaultError
from pledge.store.jobs import Worker, unseal
from pledge.store.tables import AuditEvent, Job

TO = "ada@example.org"
CODE = "602214"
CONTEXT = {"reference": "R-42", "code": CODE, "valid_minutes": 15, "request_kind": "access"}


def new_subject(store: Store, email: str = TO) -> str:
    with store.transaction() as session:
        return store.vault.find_or_create_subject(session, "email", email)


def queue(
    store: Store,
    org: OrgContact,
    *,
    subject_id: str | None,
    key: str = "request:R-42:code",
    to: str = TO,
    lang: str = "nb",
) -> int:
    with store.transaction() as session:
        return send_later(
            session,
            "verification_code",
            lang,
            to,
            CONTEXT,
            key,
            organization=org,
            subject_id=subject_id,
        )


def job(store: Store, job_id: int) -> Job:
    with store.reader() as session:
        found = session.get(Job, job_id)
        assert found is not None
        return found


def drain(store: Store, clock: datetime | None = None) -> int:
    """Run every ready mail job in this process, as `pledge worker --once` would."""
    worker = Worker(store, kinds=[JOB_KIND], clock=(lambda: clock) if clock else _now)
    return worker.run(threading.Event(), once=True)


def _now() -> datetime:
    return datetime.now(UTC)


def mail_events(store: Store) -> list[AuditEvent]:
    with store.reader() as session:
        query = select(AuditEvent).where(AuditEvent.action.like("mail.%"))
        return list(session.execute(query.order_by(AuditEvent.seq)).scalars())


def parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_queued_mail_is_written_to_the_outbox_by_a_worker(store: Store, org: OrgContact) -> None:
    job_id = queue(store, org, subject_id=new_subject(store))
    assert outbox_files(store.settings.data_dir / "outbox") == []  # nothing before the worker
    assert drain(store) == 1
    (path,) = outbox_files(store.settings.data_dir / "outbox")
    msg = parse(path.read_bytes())
    assert msg["Subject"] == "Bekreft personvernforespørselen din R-42"
    assert msg["To"] == TO
    text = msg.get_body(("plain",))
    assert text is not None and CODE in text.get_content()
    assert job(store, job_id).state == "done"
    (event,) = mail_events(store)
    assert (event.action, event.object_type, event.object_id) == ("mail.sent", "job", str(job_id))
    details = json.loads(event.details)
    assert details["kind"] == "verification_code" and details["via"] == "outbox"
    assert details["recipient"].startswith("ih1:") and TO not in event.details


def test_payload_is_sealed_with_the_subjects_key(store: Store, org: OrgContact) -> None:
    sealed = json.dumps(job(store, queue(store, org, subject_id=new_subject(store))).payload)
    assert TO not in sealed and CODE not in sealed and "R-42" not in sealed
    other = job(store, queue(store, org, subject_id=None, key="other", to="ops@acme.example"))
    text = json.dumps(other.payload)  # not a subject: sealed with the installation's job key
    assert "ops@acme.example" not in text and CODE not in text and "to" not in other.payload
    with store.reader() as session:
        aad = b"pledge/mail/v1\x00" + other.payload["message_id"].encode()
        opened = unseal(session, other.payload["sealed"], subject_id=None, aad=aad)
        assert opened["to"] == "ops@acme.example"
        with pytest.raises(VaultError):  # bound to its own message: cannot be moved
            unseal(session, other.payload["sealed"], subject_id=None, aad=b"another")


def test_smtp_outage_delays_the_mail_and_it_arrives_exactly_once(
    store: Store, org: OrgContact, smtp_down: SmtpServer
) -> None:
    store.settings.smtp_url = smtp_down.url()
    job_id = queue(store, org, subject_id=new_subject(store), lang="de")

    assert drain(store) == 1  # the attempt ran, and failed
    failed = job(store, job_id)
    assert (failed.state, failed.attempts, failed.max_attempts) == ("queued", 1, MAX_ATTEMPTS)
    assert failed.last_error is not None and "connection refused" in failed.last_error
    assert TO not in failed.last_error and CODE not in failed.last_error
    assert failed.run_at > datetime.now(UTC)  # backoff: not retried at once
    assert drain(store) == 0

    later = datetime.now(UTC) + timedelta(minutes=10)
    assert drain(store, clock=later) == 1  # still down: retried and failed again
    assert job(store, job_id).attempts == 2 and job(store, job_id).state == "queued"

    smtp_down.start()
    assert drain(store, clock=later + timedelta(hours=2)) == 1
    assert drain(store, clock=later + timedelta(days=3)) == 0
    assert job(store, job_id).state == "done"
    (got,) = smtp_down.inbox.messages
    assert got.rcpt_tos == [TO]
    assert got.message["Subject"] == "Bestätigen Sie Ihre Datenschutzanfrage R-42"
    assert [e.action for e in mail_events(store)] == ["mail.sent"]


def test_queueing_the_same_mail_twice_sends_it_once(
    store: Store, org: OrgContact, smtp_server: SmtpServer
) -> None:
    store.settings.smtp_url = smtp_server.url()
    subject_id = new_subject(store)
    assert queue(store, org, subject_id=subject_id) == queue(store, org, subject_id=subject_id)
    drain(store)
    assert len(smtp_server.inbox.messages) == 1


def test_bad_mail_fails_in_the_callers_transaction(store: Store, org: OrgContact) -> None:
    with pytest.raises(MailError, match="missing code"), store.transaction() as session:
        send_later(
            session,
            "verification_code",
            "en",
            TO,
            {"reference": "R-1", "valid_minutes": 5},
            "request:R-1:code",
            organization=org,
            subject_id=None,
        )
    with store.reader() as session:
        assert session.execute(select(Job)).first() is None


def test_mail_of_a_shredded_subject_is_dropped_and_recorded(store: Store, org: OrgContact) -> None:
    subject_id = new_subject(store)
    job_id = queue(store, org, subject_id=subject_id)
    with store.transaction() as session:
        store.vault.shred(session, subject_id, "system", "request R-42 erasure")
    assert drain(store) == 1
    assert job(store, job_id).state == "done"
    assert outbox_files(store.settings.data_dir / "outbox") == []
    (event,) = mail_events(store)
    assert event.action == "mail.dropped"
    assert json.loads(event.details) == {"kind": "verification_code", "reason": "subject_shredded"}


def test_a_refused_recipient_fails_the_job_at_once(
    store: Store, org: OrgContact, smtp_server: SmtpServer
) -> None:
    store.settings.smtp_url = smtp_server.url()
    job_id = queue(store, org, subject_id=None, to=REFUSED)
    drain(store)
    failed = job(store, job_id)
    assert (failed.state, failed.attempts) == ("failed", 1)
    assert failed.last_error is not None and "SMTP 550" in failed.last_error
    assert REFUSED not in failed.last_error


def test_context_survives_the_json_payload() -> None:
    context = {
        "deadline": date(2027, 1, 31),
        "download_expires": datetime(2026, 12, 1, 12, 30, tzinfo=UTC),
        "reasons": ["one", "two"],
        "verification_pending": True,
    }
    assert decode_context(json.loads(json.dumps(encode_context(context)))) == context


def raw_job_rows(store: Store) -> str:
    """Every column of every job row as text: what someone reading the table would see."""
    with store.reader() as session:
        return repr(session.execute(text("SELECT * FROM jobs")).all())


@pytest.mark.parametrize("sealed", [True, False], ids=["subject-key", "job-key"])
def test_sent_mail_leaves_no_address_or_body_in_the_jobs_table(
    store: Store, org: OrgContact, sealed: bool
) -> None:
    job_id = queue(store, org, subject_id=new_subject(store) if sealed else None)
    assert TO not in raw_job_rows(store)  # sealed either way, also before it is sent
    assert drain(store) == 1
    done = job(store, job_id)
    assert done.state == "done" and done.finished_at is not None
    assert set(done.payload) == {"v", "kind", "lang", "message_id"}
    assert done.payload["kind"] == "verification_code"
    rows = raw_job_rows(store)
    for value in (TO, CODE, "sealed", "organization"):
        assert value not in rows
    (event,) = mail_events(store)  # the audit still names the job and the kind
    assert event.object_id == str(job_id)
    assert json.loads(event.details)["kind"] == done.payload["kind"]
    # The row stays, so queueing the same mail again sends nothing.
    assert queue(store, org, subject_id=None) == job_id
    assert drain(store) == 0


def test_dropped_mail_is_scrubbed_and_failed_mail_kept_for_a_retry(
    store: Store, org: OrgContact, smtp_server: SmtpServer
) -> None:
    subject_id = new_subject(store)
    dropped = queue(store, org, subject_id=subject_id)
    with store.transaction() as session:
        store.vault.shred(session, subject_id, "system", "request R-42 erasure")
    drain(store)
    assert "sealed" not in job(store, dropped).payload
    store.settings.smtp_url = smtp_server.url()
    refused = queue(store, org, subject_id=None, key="refused", to=REFUSED)
    drain(store)
    failed = job(store, refused)
    assert failed.state == "failed" and "sealed" in failed.payload  # kept for staff to retry
    assert REFUSED not in json.dumps(failed.payload)
