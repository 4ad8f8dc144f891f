"""Mail goes out through the job queue: `send_later` enqueues, the `mail.send` handler sends.

The caller enqueues inside its own transaction, so a mail exists exactly when the change it
announces was committed (a request is recorded *and* its receipt mail is queued, or neither).
The worker composes and hands the message over; when the server is down or the outbox disk
is full, the handler raises, and the job queue retries with backoff for about two days. An
outage therefore delays a mail and never loses it.

Payloads hold nothing personal in clear: the recipient and the context (which may hold a
one-time code or a single-use download link) are sealed (`jobs.seal`) with the subject's vault
key when the caller names the subject. Shredding that subject then also makes its pending mail
unreadable — and every old copy of the payload in the database files — and the handler drops
it with an audit event instead of failing. A mail to someone who is not a subject (a customer's
privacy contact) or to a subject whose key is about to go (the erasure confirmation, queued
just before the shred) is sealed with the installation's job key instead: the database alone
never shows the address.

Once a mail job is done (sent, or dropped), its payload is cut down to `DONE_KEEPS` in the
transaction that completes it: no recipient, context or sealed blob stays in the live row
(sealing is the first line of defence, for the copies a database keeps of old rows; this scrub
is the second).
The row itself stays, so its idempotency key still stops a second send, and `mail.sent` in the
audit log still names it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from pledge.errors import NotFoundError
from pledge.mail.compose import OrgContact, compose, stable_message_id
from pledge.mail.errors import DeliveryError, MailError, RejectedError
from pledge.mail.i18n import resolve_language
from pledge.mail.kinds import get_kind
from pledge.mail.transport import OutboxTransport, transport_for
from pledge.store import audit
from pledge.store.errors import ShreddedError, VaultError
from pledge.store.jobs import JobContext, PermanentJobError, enqueue, handler, seal, unseal

log = logging.getLogger("pledge.mail")

JOB_KIND = "mail.send"
PAYLOAD_VERSION = 1
ACTOR = "system:mail"
#: With backoff doubling from 10 s up to an hour, 80 attempts cover an outage of about two
#: days; after that the job is `failed`, its payload kept, for staff to retry.
MAX_ATTEMPTS = 80
BACKOFF_BASE = 10.0
BACKOFF_CAP = 3600.0
_AAD = b"pledge/mail/v1\x00"
#: What a done mail job keeps of its payload: nothing that names or reaches a person.
DONE_KEEPS = ("v", "kind", "lang", "message_id")


def send_later(
    session: Session,
    message_kind: str,
    lang: str | None,
    to: str,
    context: Mapping[str, Any],
    idempotency_key: str,
    *,
    organization: OrgContact,
    subject_id: str | None,
) -> int:
    """Queue a mail inside the caller's transaction; return the job id.

    The message is composed once now, so a bad kind, context or address fails here, in the
    caller's transaction, and not in a worker later. `idempotency_key` names this one mail
    (e.g. `request:R-123:received`): queueing it again returns the same job, and every retry
    sends the same Message-ID. `subject_id` is the subject the recipient is, whose key seals
    the recipient and context; pass None for recipients who are not subjects, or whose key is
    about to be shredded (the installation's job key seals them then).
    """
    spec = get_kind(message_kind)
    language = resolve_language(lang)
    message_id = _message_id(idempotency_key, organization)
    compose(spec.name, language, context, to, organization, message_id=message_id)
    payload: dict[str, Any] = {
        "v": PAYLOAD_VERSION,
        "kind": spec.name,
        "lang": language,
        "organization": organization.to_dict(),
        "message_id": message_id,
        "subject_id": subject_id,
    }
    private = {"to": to, "context": encode_context(context)}
    aad = _AAD + message_id.encode()
    payload["sealed"] = seal(session, private, subject_id=subject_id, aad=aad)
    return enqueue(
        session, JOB_KIND, payload, idempotency_key=idempotency_key, max_attempts=MAX_ATTEMPTS
    )


@handler(JOB_KIND, backoff_base=BACKOFF_BASE, backoff_cap=BACKOFF_CAP, keep=DONE_KEEPS)
def send_mail_job(ctx: JobContext) -> None:
    """Compose and hand over one queued mail; raise to have the queue retry it later."""
    if ctx.progress and ctx.progress.get("sent"):
        return  # sent and recorded by an earlier attempt that died before finishing
    payload = ctx.payload
    _check_version(payload)
    try:
        to, context = _unseal(ctx, payload)
    except ShreddedError:
        _drop(ctx, payload, "subject_shredded")
        return
    try:
        message = compose(
            payload["kind"],
            payload["lang"],
            context,
            to,
            OrgContact.from_dict(payload["organization"]),
            message_id=payload["message_id"],
        )
    except MailError as exc:
        raise PermanentJobError(str(exc)) from None
    via = _deliver(ctx, message)
    audit.append(
        ctx.session,
        ACTOR,
        "mail.sent",
        "job",
        str(ctx.job_id),
        {
            "kind": payload["kind"],
            "lang": payload["lang"],
            "via": via,
            "recipient": audit.hash_identity(ctx.session, "email", to),
        },
    )
    ctx.checkpoint({"sent": True})  # commits the audit event with "sent": no second send
    log.info("mail sent: job %s kind=%s via=%s", ctx.job_id, payload["kind"], via)


def _deliver(ctx: JobContext, message: Any) -> str:
    transport = transport_for(ctx.store.settings)
    try:
        transport.send(message)
    except RejectedError as exc:
        raise PermanentJobError(str(exc)) from None
    except DeliveryError:
        raise  # the queue retries with backoff
    return "outbox" if isinstance(transport, OutboxTransport) else "smtp"


def _drop(ctx: JobContext, payload: Mapping[str, Any], reason: str) -> None:
    """The person was erased before their mail went out: erasure wins, and we say so."""
    details = {"kind": payload.get("kind"), "reason": reason}
    audit.append(ctx.session, ACTOR, "mail.dropped", "job", str(ctx.job_id), details)
    log.info("mail dropped: job %s kind=%s (%s)", ctx.job_id, payload.get("kind"), reason)


def _check_version(payload: Mapping[str, Any]) -> None:
    if payload.get("v") != PAYLOAD_VERSION:
        raise PermanentJobError(
            f"mail job payload version {payload.get('v')!r} is not {PAYLOAD_VERSION}; "
            "it was queued by a different Pledge version"
        )


def _unseal(ctx: JobContext, payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The recipient and context, unsealed (ShreddedError once the subject was shredded).

    A payload without `sealed` was queued in clear by an earlier version: read as it is.
    """
    if payload.get("sealed") is None:
        private: Mapping[str, Any] = payload
    else:
        aad = _AAD + str(payload["message_id"]).encode()
        subject_id = payload.get("subject_id")
        try:
            private = unseal(ctx.session, payload["sealed"], subject_id=subject_id, aad=aad)
        except ShreddedError:
            raise
        except (VaultError, NotFoundError, ValueError) as exc:
            raise PermanentJobError(f"mail job payload cannot be unsealed: {exc}") from None
    return str(private["to"]), decode_context(private["context"])


def _message_id(idempotency_key: str, organization: OrgContact) -> str:
    domain = (organization.email or "").rpartition("@")[2]
    if not domain:
        raise MailError("the organisation has no contact e-mail; set organization.contact.email")
    return stable_message_id(idempotency_key, domain)


# -- context as JSON ------------------------------------------------------------------------


def encode_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """Context values as JSON: dates and datetimes tagged, so they come back as they went in."""
    return {key: _encode(value) for key, value in context.items()}


def decode_context(data: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `encode_context`."""
    return {key: _decode(value) for key, value in data.items()}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
        if "$date" in value:
            return date.fromisoformat(value["$date"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value
