"""The request workflow: intake, verification, the state machine, staff actions and deadlines.

Faces (API, privacy centre, CLI) call these functions inside `store.transaction()`; every
state change writes its audit event and queues its mail in that same transaction, so a change,
its evidence and the message announcing it exist together or not at all. Execution itself
runs as a job (`pledge.requests.handlers`).

Intake answers the same for every address: a subject is found or created, a code is mailed,
and the reply holds only the new request's id, reference and status token.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pledge.errors import NotFoundError, PledgeError
from pledge.mail import OrgContact, send_later
from pledge.manifest.model import Manifest
from pledge.policy import (
    applicable_jurisdiction,
    deadline_for,
    jurisdiction_for_country,
    rights_offered,
    sla_state,
)
from pledge.requests import verification
from pledge.requests.tables import REQUEST_KINDS, DataRequest, RequestStep
from pledge.store import audit
from pledge.store.db import store_of
from pledge.store.errors import IdentityError
from pledge.store.jobs import enqueue
from pledge.store.tables import utcnow

EXECUTE_JOB = "requests.execute"
PURGE_JOB = "requests.purge"
#: Unverified requests are deleted this long after they arrived.
UNVERIFIED_TTL_DAYS = 7
#: Web requests per address and day that get mail and start: past it, intake answers the same
#: but mails nothing, so the public form cannot be used to flood someone's mailbox.
MAIL_LIMIT_PER_DAY = 5
TERMINAL = frozenset({"completed", "denied", "forwarded"})
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "unverified": frozenset({"verified", "denied"}),
    "verified": frozenset({"awaiting_approval", "in_progress", "denied", "forwarded"}),
    "awaiting_approval": frozenset({"in_progress", "denied"}),
    "in_progress": frozenset({"completed", "failed", "forwarded", "denied"}),
    "failed": frozenset({"in_progress", "denied"}),
}
_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class RequestError(PledgeError):
    """A request cannot be made or changed as asked (not offered, wrong state, bad input)."""

    status = 400


class UnprovenIdentity(RequestError):
    """Identities nobody proved: refused at intake (422) and again before execution.

    A request may only start from identities proven by a code to the channel they name or
    attested by staff; anything else would let a stranger name another person (P-G8).
    `kinds` names them (never their values).
    """

    def __init__(self, kinds: Sequence[str], why: str) -> None:
        super().__init__(why)
        self.kinds = tuple(sorted(kinds))


class AddressError(RequestError):
    """The e-mail address is not one a code can be sent to (422, beside the field)."""


class AttestationError(RequestError):
    """Staff attested an identity without saying why (422): the reason is the evidence."""


class FourEyesError(RequestError):
    """The staff member who attested a request may not also approve it (403)."""


class TransitionError(RequestError):
    """The request's current state forbids this action (e.g. approving a completed request).

    Carries the state and reference, so the API can answer 409 naming the current state.
    """

    status = 409

    def __init__(self, req: DataRequest, why: str) -> None:
        super().__init__(f"request {req.reference} is {req.state}; {why}")
        self.state = req.state
        self.reference = req.reference


@dataclass(frozen=True)
class Intake:
    """What a person (or staff on their behalf) asks for."""

    kind: str
    email: str
    jurisdiction: str | None = None
    country: str | None = None
    region: str | None = None
    language: str | None = None
    details: str | None = None
    corrections: Mapping[str, str] = field(default_factory=dict)
    identities: Mapping[str, str] = field(default_factory=dict)
    purposes: Sequence[str] = ()
    channel: str = "web"


#: How an identity may be proven: a code to the address it names, staff attestation (with a
#: reason), or nothing because the manifest asks for none (only the e-mail of an opt-out).
PROOFS = ("email_code", "staff_attested", "not_required")


@dataclass(frozen=True)
class Submitted:
    """The answer to an intake: the same shape for known and unknown people."""

    id: str
    reference: str
    token: str
    state: str
    due_at: datetime


@dataclass(frozen=True)
class Private:
    """The sealed part of a request: what only the subject's key may open."""

    email: str
    details: str | None
    corrections: dict[str, str]
    identities: dict[str, str]
    purposes: list[str]
    #: kind → how it was proven (one of `PROOFS`); a kind missing here is unproven.
    proofs: dict[str, str] = field(default_factory=dict)

    def unproven(self) -> list[str]:
        """The kinds given that nobody proved."""
        kinds = ["email", *self.identities]
        return [k for k in kinds if self.proofs.get(k) not in PROOFS]

    def identity_map(self) -> dict[str, list[str]]:
        """The identities execution starts from: all of them proven, else UnprovenIdentity.

        The execution path's own check, so that a gap at intake cannot reopen the hole: a
        request with an identity nobody proved does not run at all.
        """
        missing = self.unproven()
        if missing:
            raise UnprovenIdentity(missing, "the request names identities nobody proved")
        found: dict[str, list[str]] = {"email": [self.email]}
        for kind, value in self.identities.items():
            found.setdefault(kind, []).append(value)
        return found


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _reference() -> str:
    body = "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))
    return f"R-{body[:4]}-{body[4:]}"


def _aad(request_id: str) -> bytes:
    return b"pledge/request/v1\x00" + request_id.encode()


def private_of(session: Session, req: DataRequest) -> Private:
    """Open the sealed part (ShreddedError once the subject was shredded)."""
    vault = store_of(session).vault
    data = json.loads(vault.decrypt_for(session, req.subject_id, req.sealed, _aad(req.id)))
    proofs = data.get("proofs")
    if proofs is None:
        # Sealed before proofs were kept: only the e-mail, and only once verified, is proven.
        proofs = {"email": "email_code"} if req.verified_at is not None else {}
    return Private(
        data["email"],
        data.get("details"),
        dict(data.get("corrections", {})),
        dict(data.get("identities", {})),
        list(data.get("purposes", [])),
        dict(proofs),
    )


def _seal(session: Session, req: DataRequest, private: Private) -> None:
    data = {
        "email": private.email,
        "details": private.details,
        "corrections": private.corrections,
        "identities": private.identities,
        "purposes": private.purposes,
        "proofs": private.proofs,
    }
    vault = store_of(session).vault
    req.sealed = vault.encrypt_for(session, req.subject_id, json.dumps(data).encode(), _aad(req.id))


def _prove(session: Session, req: DataRequest, kinds: Sequence[str], how: str) -> None:
    """Record in the sealed part that `kinds` were proven `how`."""
    private = private_of(session, req)
    proofs = {**private.proofs, **dict.fromkeys(kinds, how)}
    _seal(session, req, Private(**{**private.__dict__, "proofs": proofs}))


def status_url(public_url: str, req: DataRequest, token: str) -> str:
    return f"{public_url.rstrip('/')}/privacy/requests/{req.id}?token={token}"


# --- intake ---------------------------------------------------------------------------------


def resolve_jurisdiction(manifest: Manifest, intake: Intake) -> str:
    """The manifest's jurisdiction for the person: asked one, else from the country."""
    asked = intake.jurisdiction
    if not asked and intake.country:
        asked = jurisdiction_for_country(intake.country, intake.region)
    return applicable_jurisdiction(manifest, asked or "global")


def offered_kinds(manifest: Manifest, jurisdiction: str) -> list[str]:
    """The request kinds this workflow runs that the manifest offers under `jurisdiction`."""
    offered = rights_offered(manifest, jurisdiction)
    return [k for k in REQUEST_KINDS if k in offered]


#: Categories a person may ask to correct: facts about them, not logs or usage. The e-mail
#: address is left out: it is how the request finds them.
_CORRECTABLE = (
    "user.name",
    "user.contact.",
    "user.professional_information",
    "user.demographic",
    "user.account.username",
)


def correctable_categories(manifest: Manifest) -> set[str]:
    """Correctable categories held in a writable field (no key, not `read_only`) of a
    controller system's dataset: what a rectification can actually change."""
    keys: set[str] = set()
    for key, system in manifest.systems.items():
        if system.role != "controller":
            continue
        for dataset in manifest.datasets_of(key):
            for collection in dataset.collections:
                for _, fld in collection.iter_fields():
                    meta = fld.fides_meta
                    if meta is not None and (meta.primary_key or meta.read_only):
                        continue
                    categories = fld.data_categories or ()
                    keys.update(c for c in categories if c.startswith(_CORRECTABLE))
    keys.discard("user.contact.email")
    return keys


_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_LOCAL_FORBIDDEN = frozenset('"(),:;<>[\\]')


def check_address(text: str) -> str:
    """The e-mail address trimmed, or AddressError: one a code can actually be mailed to.

    Stricter than RFC 5322 on purpose (no quoted local parts, no address literals such as
    `a@[b]`): what passes here parses as a mail recipient and fits the vault's index.
    """
    address = text.strip()
    local, at, domain = address.rpartition("@")
    if not address or len(address) > 254 or not at or not local or not domain:
        raise AddressError("an e-mail address needs one '@' with a name before and a domain after")
    if any(c.isspace() or not c.isprintable() for c in address):
        raise AddressError("an e-mail address has no spaces or invisible characters")
    bad_local = "@" in local or local.startswith(".") or local.endswith(".") or ".." in local
    if len(local) > 64 or bad_local or _LOCAL_FORBIDDEN & set(local):
        raise AddressError("the part of the e-mail address before '@' is not valid")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise AddressError("the domain of the e-mail address is not valid") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or labels[-1].isdigit() or not all(_LABEL.fullmatch(x) for x in labels):
        raise AddressError("the domain of the e-mail address is not valid")
    try:
        parsed = Address(addr_spec=address)
    except Exception:  # the stdlib parser fails in odd ways (AttributeError, IndexError)
        raise AddressError("the e-mail address is not valid") from None
    if parsed.addr_spec != address:
        raise AddressError("the e-mail address is not valid")
    return address


def _check_identities(
    intake: Intake, allowed: Sequence[str], attested: bool, reason: str | None
) -> dict[str, str]:
    """The extra identities to keep; each one must be one the right takes and be attested.

    The public intake can only prove the e-mail (by its code), so any other identity there
    is refused, never silently used; staff may attest others, with a reason.
    """
    extra = {k: v.strip() for k, v in intake.identities.items() if v and v.strip()}
    refused = sorted(set(extra) - set(allowed))
    if refused:
        raise UnprovenIdentity(refused, f"{intake.kind} cannot be asked by {', '.join(refused)}")
    if extra and not attested:
        raise UnprovenIdentity(
            list(extra),
            "only the e-mail address can be proven here (by the code we send to it); "
            f"{', '.join(sorted(extra))} cannot be, so it is not accepted",
        )
    if attested and not (reason or "").strip():
        raise AttestationError("attesting that you verified the person needs a reason")
    return extra


def submit(
    session: Session,
    manifest: Manifest,
    intake: Intake,
    *,
    actor: str,
    public_url: str,
    verified: bool = False,
    reason: str | None = None,
    now: datetime | None = None,
) -> Submitted:
    """Record a request, mail its receipt (and code), and start it when no code is needed.

    `verified=True` is staff attesting they verified the person themselves (post, phone),
    with `reason`: audited under the staff member's name, and (unless the right is
    `staff_attested: trusted`) held for approval by someone else.
    """
    now = now or utcnow()
    jurisdiction = resolve_jurisdiction(manifest, intake)
    rights = rights_offered(manifest, jurisdiction)
    config = rights.get(intake.kind)
    if intake.kind not in REQUEST_KINDS or config is None:
        offered = ", ".join(offered_kinds(manifest, jurisdiction)) or "none"
        raise RequestError(
            f"'{intake.kind}' is not offered under {jurisdiction}; offered: {offered}"
        )
    email = check_address(intake.email)
    extra = _check_identities(intake, config.identities, verified, reason)
    vault = store_of(session).vault
    try:
        existed = vault.find_subject(session, "email", email) is not None
        subject_id = vault.find_or_create_subject(session, "email", email, actor=actor)
    except IdentityError as exc:
        raise AddressError(str(exc)) from None
    deadline = deadline_for(jurisdiction, intake.kind, now)
    token = secrets.token_urlsafe(24)
    four_eyes = verified and config.staff_attested == "approval"
    req = DataRequest(
        id=str(uuid.uuid4()),
        reference=_reference(),
        kind=intake.kind,
        state="unverified",
        extended=False,
        jurisdiction=jurisdiction,
        language=_language(manifest, intake.language),
        channel=intake.channel,
        approval_required=config.approval or four_eyes,
        subject_id=subject_id,
        subject_created=not existed,
        token_hash=token_digest(token),
        sealed=b"",
        received_at=now,
        due_at=deadline.due,
        extended_due_at=deadline.extended_due,
        confirm_by=deadline.confirm_by,
        extend_notice_by=deadline.extend_notice_by,
        updated_at=now,
        notes={"attestation": {"by": actor}} if verified else {},
    )
    private = Private(
        email,
        intake.details,
        dict(intake.corrections),
        extra,
        list(intake.purposes),
        dict.fromkeys(extra, "staff_attested") if verified else {},
    )
    _seal(session, req, private)
    session.add(req)
    session.flush()
    audit.append(
        session,
        actor,
        "request.received",
        "request",
        req.id,
        {
            "reference": req.reference,
            "kind": req.kind,
            "jurisdiction": jurisdiction,
            "channel": intake.channel,
            "subject": subject_id,
            "identity": vault.hash_identity("email", email),
            "due": req.due_at.isoformat(),
        },
    )
    if verified:
        _attested(session, req, actor, ["email", *extra], reason or "")
    enqueue(
        session,
        PURGE_JOB,
        {"request_id": req.id},
        idempotency_key=f"request:{req.id}:purge",
        run_at=now + timedelta(days=UNVERIFIED_TTL_DAYS),
    )
    needs_code = config.verification != "none" and not verified
    if intake.channel == "web" and _flooded(session, req, now):
        audit.append(session, actor, "request.mail_withheld", "request", req.id, {})
        return Submitted(req.id, req.reference, token, req.state, req.due_at)
    link = status_url(public_url, req, token)
    _mail(
        session,
        manifest,
        req,
        "received",
        email,
        {
            "reference": req.reference,
            "request_kind": req.kind,
            "received": now,
            "deadline": req.due_at.date(),
            "status_url": link,
            "verification_pending": needs_code,
        },
    )
    if needs_code:
        send_code(session, manifest, req, email, now=now)
    if not needs_code:
        how = "staff_attested" if verified else "not_required"
        mark_verified(session, manifest, req, actor=actor, how=how, now=now)
    return Submitted(req.id, req.reference, token, req.state, req.due_at)


def _attested(
    session: Session, req: DataRequest, actor: str, kinds: Sequence[str], reason: str
) -> None:
    """The attestation's evidence: who, which kinds of identity, and a digest of the reason.

    The reason itself may name the person, so it stays out of the audit log (as denial
    reasons do); the digest proves later which reason was given.
    """
    audit.append(
        session,
        actor,
        "request.attested",
        "request",
        req.id,
        {
            "identities": sorted(kinds),
            "reason_chars": len(reason.strip()),
            "reason_digest": _digest_texts([reason.strip()]),
        },
    )


def _flooded(session: Session, req: DataRequest, now: datetime) -> bool:
    """Whether the address already made `MAIL_LIMIT_PER_DAY` web requests in the last day.

    Such a request is kept (and purged unverified like any other) but gets no mail and does
    not start, not even an opt-out that needs no code: the earlier ones already carry it.
    """
    query = (
        select(func.count())
        .select_from(DataRequest)
        .where(
            DataRequest.subject_id == req.subject_id,
            DataRequest.id != req.id,
            DataRequest.channel == "web",
            DataRequest.received_at > now - timedelta(days=1),
        )
    )
    return int(session.execute(query).scalar_one()) >= MAIL_LIMIT_PER_DAY


def _language(manifest: Manifest, lang: str | None) -> str:
    if lang:
        base = lang.strip().replace("_", "-").lower()
        for candidate in (base, base.split("-")[0], "nb" if base.startswith("no") else ""):
            if candidate in manifest.languages:
                return candidate
    return manifest.default_language


def send_code(
    session: Session,
    manifest: Manifest,
    req: DataRequest,
    email: str,
    *,
    now: datetime | None = None,
) -> None:
    """Issue a code and mail it; the number of sends is capped (see `verification`)."""
    now = now or utcnow()
    if not verification.may_resend(session, req.id, now):
        raise RequestError("no more codes can be sent for this request now; try again later")
    code = verification.issue(session, req.id, now)
    minutes = int(verification.CODE_TTL.total_seconds() // 60)
    sends = req.notes.get("codes_sent", 0) + 1
    req.notes = {**req.notes, "codes_sent": sends}
    _mail(
        session,
        manifest,
        req,
        f"code:{sends}",
        email,
        {
            "reference": req.reference,
            "code": code,
            "valid_minutes": minutes,
            "request_kind": req.kind,
        },
        kind="verification_code",
    )
    audit.append(session, "system", "request.code_sent", "request", req.id, {"send": sends})


def resend_code(
    session: Session, manifest: Manifest, request_id: str, token: str, now: datetime | None = None
) -> None:
    req = by_token(session, request_id, token)
    if req.state != "unverified":
        return
    send_code(session, manifest, req, private_of(session, req).email, now=now)


def verify(
    session: Session,
    manifest: Manifest,
    request_id: str,
    code: str,
    *,
    now: datetime | None = None,
) -> verification.Check:
    """Check a code; on success the request moves on (approval or execution)."""
    now = now or utcnow()
    req = session.get(DataRequest, request_id, with_for_update=True)
    found = req if req is not None and req.state == "unverified" else None
    # A bad id is checked against a random one (no code: "missing") and audited like a wrong
    # code, so both paths do the same work (digests, reads, one UPDATE, one audit event).
    result = verification.check(session, found.id if found else str(uuid.uuid4()), code, now)
    if found is not None and result.outcome == "ok":
        mark_verified(session, manifest, found, actor="subject", how="email_code", now=now)
        return result
    audit.append(
        session,
        "subject",
        "request.verification_failed",
        "request",
        found.id if found is not None else None,
        {"outcome": result.outcome},
    )
    return result


def mark_verified(
    session: Session,
    manifest: Manifest,
    req: DataRequest,
    *,
    actor: str,
    how: str,
    now: datetime | None = None,
) -> None:
    """unverified → verified, then on to approval or execution."""
    now = now or utcnow()
    req.verified_at = now
    _prove(session, req, ["email"], how)
    transition(session, req, "verified", actor=actor, details={"how": how}, now=now)
    if req.approval_required:
        transition(session, req, "awaiting_approval", actor="system", now=now)
    else:
        start(session, req, actor="system", now=now)


# --- the state machine ----------------------------------------------------------------------


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def require_transition(req: DataRequest, target: str) -> None:
    """Raise TransitionError unless `req` may become `target` (checked before any side effect)."""
    if not can_transition(req.state, target):
        raise TransitionError(req, f"it cannot become {target}")


def transition(
    session: Session,
    req: DataRequest,
    target: str,
    *,
    actor: str,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Change state if the machine allows it, with its audit event in the same transaction."""
    require_transition(req, target)
    now = now or utcnow()
    before = req.state
    req.state = target
    req.updated_at = now
    if target in TERMINAL:
        req.closed_at = now
    session.flush()
    event = {"from": before, "to": target, **(details or {})}
    audit.append(session, actor, f"request.{target}", "request", req.id, event)


def start(session: Session, req: DataRequest, *, actor: str, now: datetime | None = None) -> int:
    """→ in_progress, with one new execution job (a retry gets its own job)."""
    transition(session, req, "in_progress", actor=actor, now=now)
    run = int(req.notes.get("runs", 0)) + 1
    req.notes = {**req.notes, "runs": run}
    job = enqueue(
        session,
        EXECUTE_JOB,
        {"request_id": req.id},
        idempotency_key=f"request:{req.id}:run:{run}",
        max_attempts=5,
    )
    req.job_id = job
    return job


# --- staff actions --------------------------------------------------------------------------


def get(session: Session, request_id: str, *, lock: bool = False) -> DataRequest:
    req = session.get(DataRequest, request_id, with_for_update=lock, populate_existing=True)
    if req is None:
        req = session.execute(
            select(DataRequest).where(DataRequest.reference == request_id.upper())
        ).scalar_one_or_none()
    if req is None:
        raise NotFoundError(f"no request {request_id}")
    return req


def by_token(session: Session, request_id: str, token: str) -> DataRequest:
    """The request if `token` is its status token; the same NotFoundError otherwise."""
    req = session.get(DataRequest, request_id)
    expected = req.token_hash if req is not None else "0" * 64
    ok = secrets.compare_digest(token_digest(token), expected)
    if req is None or not ok:
        raise NotFoundError("no such request, or the link is not valid")
    return req


def attester_of(req: DataRequest) -> str | None:
    """The staff member who attested the person's identity, if anyone did."""
    attestation = req.notes.get("attestation") or {}
    by = attestation.get("by") if isinstance(attestation, dict) else None
    return str(by) if by else None


def approve(session: Session, request_id: str, *, actor: str) -> DataRequest:
    """Start a request awaiting approval; never by the one who attested it (four eyes)."""
    req = get(session, request_id, lock=True)
    if req.state != "awaiting_approval":
        raise TransitionError(req, "only a request awaiting approval can be approved")
    attester = attester_of(req)
    if attester is not None and attester == actor:
        raise FourEyesError(
            f"request {req.reference} was attested by you; someone else must approve it"
        )
    details = {"attested_by": attester} if attester is not None else {}
    audit.append(session, actor, "request.approved", "request", req.id, details)
    start(session, req, actor=actor)
    return req


def retry(session: Session, request_id: str, *, actor: str) -> DataRequest:
    """Run a failed request again; finished steps are skipped by the job."""
    req = get(session, request_id, lock=True)
    if req.state != "failed":
        raise TransitionError(req, "only a failed request can be retried")
    start(session, req, actor=actor)
    return req


def _digest_texts(texts: Sequence[str]) -> str:
    return hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]


def deny(
    session: Session,
    manifest: Manifest,
    request_id: str,
    reasons: Sequence[str],
    *,
    actor: str,
) -> DataRequest:
    """Deny with reasons, telling the person of their right to complain (and to go to court)."""
    reasons = [r.strip() for r in reasons if r.strip()]
    if not reasons:
        raise RequestError("a denial needs at least one reason")
    req = get(session, request_id, lock=True)
    require_transition(req, "denied")  # before opening the sealed part (gone after erasure)
    email = private_of(session, req).email
    req.notes = {**req.notes, "denial": reasons}
    transition(
        session,
        req,
        "denied",
        actor=actor,
        details={"reasons": len(reasons), "reasons_digest": _digest_texts(reasons)},
    )
    authority = manifest.organization.supervisory_authority
    context: dict[str, Any] = {
        "reference": req.reference,
        "request_kind": req.kind,
        "reasons": reasons,
    }
    if authority is not None:
        context["authority_name"] = manifest.text(authority.name, req.language)
        if authority.url:
            context["authority_url"] = authority.url
    _mail(session, manifest, req, "denied", email, context)
    return req


def extend(
    session: Session,
    manifest: Manifest,
    request_id: str,
    reasons: Sequence[str],
    *,
    actor: str,
    public_url: str | None = None,
    now: datetime | None = None,
) -> DataRequest:
    """Extend once, within the law's limit, before the original due date; mail the reasons."""
    now = now or utcnow()
    reasons = [r.strip() for r in reasons if r.strip()]
    if not reasons:
        raise RequestError("an extension needs its reasons: they are sent to the person")
    req = get(session, request_id, lock=True)
    new_due = _check_extendable(req, now)
    req.extended = True
    req.updated_at = now
    req.notes = {**req.notes, "extension": reasons}
    session.flush()
    audit.append(
        session,
        actor,
        "request.extended",
        "request",
        req.id,
        {
            "due": new_due.isoformat(),
            "reasons": len(reasons),
            "reasons_digest": _digest_texts(reasons),
        },
    )
    email = private_of(session, req).email
    _mail(
        session,
        manifest,
        req,
        "extended",
        email,
        {
            "reference": req.reference,
            "request_kind": req.kind,
            "deadline": new_due.date(),
            "reasons": reasons,
        },
    )
    return req


def _check_extendable(req: DataRequest, now: datetime) -> datetime:
    """The extended due date, or TransitionError (409) when state or history forbid it."""
    if req.state in TERMINAL:
        raise TransitionError(req, "it cannot be extended")
    if req.extended:
        raise TransitionError(req, "it was extended already")
    if req.extended_due_at is None:
        raise TransitionError(req, f"the law of {req.jurisdiction} allows no extension of it")
    limit = req.extend_notice_by or req.due_at
    if now > limit:
        raise TransitionError(req, f"an extension had to be sent before {limit:%Y-%m-%d}")
    return req.extended_due_at


# --- reading --------------------------------------------------------------------------------


def current_due(req: DataRequest) -> datetime:
    return req.extended_due_at if req.extended and req.extended_due_at else req.due_at


def sla_of(req: DataRequest, now: datetime | None = None) -> str:
    """on_track, due_soon, overdue — or closed once the request is finished."""
    if req.state in TERMINAL:
        return "closed"
    return sla_state(current_due(req), now or utcnow())


@dataclass(frozen=True)
class Filter:
    state: str | None = None
    kind: str | None = None
    sla: str | None = None
    limit: int = 100


def list_requests(session: Session, flt: Filter, now: datetime | None = None) -> list[DataRequest]:
    query = select(DataRequest).order_by(DataRequest.due_at, DataRequest.received_at)
    if flt.state:
        query = query.where(DataRequest.state == flt.state)
    if flt.kind:
        query = query.where(DataRequest.kind == flt.kind)
    rows = list(session.execute(query.limit(max(1, min(flt.limit, 1000)))).scalars())
    if flt.sla:
        rows = [r for r in rows if sla_of(r, now) == flt.sla]
    return rows


def steps_of(session: Session, request_id: str) -> list[RequestStep]:
    query = select(RequestStep).where(RequestStep.request_id == request_id)
    return list(session.execute(query.order_by(RequestStep.position, RequestStep.id)).scalars())


def count_open(session: Session) -> int:
    query = select(func.count()).select_from(DataRequest)
    return int(session.execute(query.where(DataRequest.state.notin_(TERMINAL))).scalar_one())


#: What a purpose given for a staff read may look like: a short label, not a note about the
#: person (it goes into the audit log).
PURPOSE_PATTERN = r"^[A-Za-z0-9_.:/ -]{1,100}$"


def record_read(
    session: Session,
    req: DataRequest,
    *,
    actor: str,
    what: Sequence[str],
    purpose: str | None = None,
    collections: Sequence[str] = (),
) -> None:
    """Audit a read of a request's personal data: who, what kinds, whose, and why if said.

    `what` and `collections` name kinds of data, never values; the person is named by their
    subject reference only.
    """
    if purpose is not None and not re.fullmatch(PURPOSE_PATTERN, purpose):
        raise RequestError("a purpose is a short label: letters, digits, space and _.:/-")
    details: dict[str, Any] = {"read": sorted(what), "subject": req.subject_id}
    if collections:
        details["collections"] = list(collections)
    if purpose:
        details["purpose"] = purpose
    audit.append(session, actor, "request.read", "request", req.id, details)


def details_of(
    session: Session, request_id: str, *, actor: str, purpose: str | None = None
) -> dict[str, Any]:
    """A request as staff see it in full (result, notes, steps), the read audited."""
    req = get(session, request_id)
    steps = [
        {
            "name": s.name,
            "state": s.state,
            "detail": s.detail,
            "started_at": s.started_at,
            "finished_at": s.finished_at,
        }
        for s in steps_of(session, req.id)
    ]
    record_read(
        session, req, actor=actor, what=["request", "result", "notes", "steps"], purpose=purpose
    )
    return {**describe(req), "result": req.result, "notes": req.notes, "steps": steps}


def describe(req: DataRequest, now: datetime | None = None) -> dict[str, Any]:
    """The request as staff and the person see it: no identity, no corrections."""
    return {
        "id": req.id,
        "reference": req.reference,
        "kind": req.kind,
        "state": req.state,
        "extended": req.extended,
        "jurisdiction": req.jurisdiction,
        "language": req.language,
        "channel": req.channel,
        "received_at": req.received_at,
        "verified_at": req.verified_at,
        "due_at": current_due(req),
        "original_due_at": req.due_at,
        "confirm_by": req.confirm_by,
        "closed_at": req.closed_at,
        "sla": sla_of(req, now),
    }


# --- mail -----------------------------------------------------------------------------------


def _mail(
    session: Session,
    manifest: Manifest,
    req: DataRequest,
    name: str,
    to: str,
    context: Mapping[str, Any],
    *,
    kind: str | None = None,
    sealed: bool = True,
    lang: str | None = None,
) -> int:
    """Queue one mail of the request; `name` makes its idempotency key.

    `lang` defaults to the person's language; `sealed=False` for recipients who are not the
    subject (or a subject about to be shredded).
    """
    message_kind = kind or f"request_{name}"
    language = lang or req.language
    return send_later(
        session,
        message_kind,
        language,
        to,
        context,
        mail_key(req, name),
        organization=OrgContact.from_manifest(manifest, language),
        subject_id=req.subject_id if sealed else None,
    )


def mail_key(req: DataRequest, name: str) -> str:
    """The idempotency key of the request's mail called `name`: one key, one mail."""
    return f"request:{req.id}:{name}"


mail = _mail
