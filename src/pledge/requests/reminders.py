"""SLA reminders to the privacy team: one mail per request and SLA state, never one per poll.

An open request that becomes `due_soon` or `overdue` (`service.sla_of`) gets one reminder to
the organisation's privacy contact (`organization.contact.email`), in the manifest's first
language. The mail's idempotency key names the request, the SLA state and the due date, so
running the reminders again (every worker, every hour, `pledge requests remind`) sends nothing
twice, while a request extended to a new date gets its reminders again for that date.
Unverified requests are left out: nothing is owed before the person proves the request is
theirs, and they are purged after a week. Reminders name the request, never the person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from pledge.manifest.model import Manifest
from pledge.requests import service
from pledge.requests.tables import DataRequest
from pledge.store import audit
from pledge.store.jobs import find_by_key
from pledge.store.tables import utcnow

log = logging.getLogger("pledge.requests.reminders")

REMIND_JOB = "requests.remind"
#: How often workers run the reminders (the job is keyed per window: one per hour in all).
REMIND_EVERY = timedelta(hours=1)
REMINDED_SLAS = ("due_soon", "overdue")
#: States in which the team owes the person an answer.
OPEN_STATES = tuple(
    s for s in service.TRANSITIONS if s not in service.TERMINAL and s != "unverified"
)


@dataclass(frozen=True)
class Reminder:
    """One reminder queued: which request, which SLA state, which due date, which mail job."""

    request_id: str
    reference: str
    sla: str
    due: datetime
    job_id: int


def remind(
    session: Session, manifest: Manifest, *, actor: str = "system", now: datetime | None = None
) -> list[Reminder]:
    """Queue a reminder for each open request newly due soon or overdue; return those queued."""
    now = now or utcnow()
    to = manifest.organization.contact.email
    if not to:
        log.warning("no reminders: the manifest has no organization.contact.email")
        return []
    queued = []
    for req in _open_requests(session):
        sla = service.sla_of(req, now)
        if sla in REMINDED_SLAS:
            reminder = _remind_one(session, manifest, req, sla, to=to, actor=actor, now=now)
            if reminder is not None:
                queued.append(reminder)
    if queued:
        log.info("queued %d SLA reminder(s)", len(queued))
    return queued


def _open_requests(session: Session) -> list[DataRequest]:
    query = select(DataRequest).where(DataRequest.state.in_(OPEN_STATES))
    query = query.options(defer(DataRequest.sealed)).order_by(DataRequest.due_at)
    return list(session.execute(query).scalars())


def _mail_name(sla: str, due: datetime) -> str:
    return f"remind:{sla}:{due:%Y-%m-%d}"


def _remind_one(
    session: Session,
    manifest: Manifest,
    req: DataRequest,
    sla: str,
    *,
    to: str,
    actor: str,
    now: datetime,
) -> Reminder | None:
    """The reminder of `req` for `sla`, unless one was queued already (by anyone)."""
    due = service.current_due(req)
    name = _mail_name(sla, due)
    if find_by_key(session, service.mail_key(req, name)) is not None:
        return None
    req = service.get(session, req.id, lock=True)  # concurrent runs queue one mail
    changed = service.sla_of(req, now) != sla or service.current_due(req) != due
    if changed or find_by_key(session, service.mail_key(req, name)) is not None:
        return None
    context = {
        "reference": req.reference,
        "request_kind": req.kind,
        "request_state": req.state,
        "sla": sla,
        "deadline": due.date(),
        "received": req.received_at,
    }
    job_id = service.mail(
        session,
        manifest,
        req,
        name,
        to,
        context,
        kind="request_reminder",
        sealed=False,
        lang=manifest.default_language,
    )
    details = {"sla": sla, "due": due.isoformat(), "state": req.state, "job": job_id}
    audit.append(session, actor, "request.reminded", "request", req.id, details)
    return Reminder(req.id, req.reference, sla, due, job_id)
