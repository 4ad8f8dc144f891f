"""Jobs that execute requests (found by the worker as `pledge.requests.handlers`).

`requests.execute` runs one request to its end: access and portability build the package,
erasure runs the engine's plan step by step with a checkpoint after each (so a killed worker
resumes after the last finished step and never repeats an erasure), rectification applies the
corrections, restriction, objection, sale/sharing opt-out and the limit on sensitive data set
processing limits (`flags.limit_for`). Processor systems are never touched: the person is told
whom to ask, the controlling customer is told of the request.
`requests.purge` deletes a request that was never verified; `requests.remind`, enqueued by
the workers once an hour, mails the privacy team about requests due soon or overdue.

A failure the job cannot get past (a plan that does not fit the stores, verification that
finds data left) marks the request `failed`, with the step and counts, for staff to retry; so
does a job that fails for good before its work begins (no manifest in force in the worker),
with the reason. The manifest and the connections' environment come from the job context
(the installation, `pledge.runtime`), never from the process environment; a
failed request also mails the privacy team (`organization.contact` and the DPO) its reasons
(tables and columns, never values) and tells the person, in their language, that it is delayed.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pledge.errors import PlanError
from pledge.manifest.model import Manifest
from pledge.policy import route_request
from pledge.requests import flags, package, reminders
from pledge.requests.engine import Engine
from pledge.requests.report import ErasureReport, ErasureState
from pledge.requests.service import (
    EXECUTE_JOB,
    PURGE_JOB,
    Private,
    UnprovenIdentity,
    current_due,
    mail,
    private_of,
    transition,
)
from pledge.requests.summary import summarise
from pledge.requests.tables import DataRequest, RequestPackage, RequestStep
from pledge.requests.verification import installation_key
from pledge.store import audit
from pledge.store.db import store_of
from pledge.store.jobs import JobContext, handler, periodic
from pledge.store.tables import utcnow

log = logging.getLogger("pledge.requests.jobs")

#: Attempts of one execution job before the request is marked failed.
ATTEMPTS = 3
_STATE_AAD = b"pledge/erasure-state/v1"


def open_engine(ctx: JobContext, manifest: Manifest) -> Engine:
    key = installation_key(ctx.session, "masking")
    return Engine.open(manifest, ctx.environ, masking_key=key)


# --- steps ---------------------------------------------------------------------------------


def _step(
    session: Session,
    req: DataRequest,
    position: int,
    name: str,
    state: str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Record a step's state (one row per request and step name)."""
    row = session.execute(
        select(RequestStep).where(RequestStep.request_id == req.id, RequestStep.name == name)
    ).scalar_one_or_none()
    now = utcnow()
    if row is None:
        row = RequestStep(request_id=req.id, position=position, name=name, started_at=now)
        session.add(row)
    row.state = state
    row.detail = dict(detail) if detail is not None else row.detail
    if state in ("done", "failed", "skipped"):
        row.finished_at = now
    session.flush()


# --- the job -------------------------------------------------------------------------------


def failed_for_good(session: Session, payload: Mapping[str, Any], reason: str) -> None:
    """The execution job failed for good: its request, if still running, fails with the reason."""
    req = session.get(DataRequest, payload.get("request_id"), populate_existing=True)
    if req is None or req.state != "in_progress":
        return
    log.warning("request %s failed: its job failed for good", req.reference)
    _fail(session, req, {"error": "job_failed", "reason": reason})


@handler(EXECUTE_JOB, backoff_base=5.0, on_failure=failed_for_good)
def execute(ctx: JobContext) -> None:
    session = ctx.session
    req = session.get(DataRequest, ctx.payload["request_id"], populate_existing=True)
    if req is None or req.state != "in_progress":
        return  # purged, denied or finished meanwhile: nothing to do
    manifest = ctx.manifest  # NoManifestError fails the job, and so the request, at once
    try:
        _run(ctx, manifest, req)
    except UnprovenIdentity as exc:
        # Not a passing fault: retrying cannot prove an identity. Refused before any store
        # was read or changed.
        session.rollback()
        req = session.get(DataRequest, ctx.payload["request_id"], populate_existing=True)
        if req is None or req.state != "in_progress":
            return
        log.warning("request %s refused: identities nobody proved", req.reference)
        detail = {"error": "unproven_identity", "kinds": list(exc.kinds)}
        _fail(session, req, detail, manifest)
    except Exception as exc:
        if ctx.attempt < ATTEMPTS:
            raise
        session.rollback()
        req = session.get(DataRequest, ctx.payload["request_id"], populate_existing=True)
        if req is None or req.state != "in_progress":
            return
        log.warning("request %s failed for good: %s", req.reference, type(exc).__name__)
        _fail(session, req, _failure_of(exc), manifest)


def _run(ctx: JobContext, manifest: Manifest, req: DataRequest) -> None:
    session = ctx.session
    private = private_of(session, req)
    private.identity_map()  # UnprovenIdentity before anything is read, changed or mailed
    routing = route_request(manifest)
    if routing.only_forwarded:
        _forward(session, manifest, req, private, routing.forwarded, ctx.environ)
        transition(session, req, "forwarded", actor="system")
        return
    if req.kind in ("access", "portability"):
        _access(ctx, manifest, req, private)
    elif req.kind == "erasure":
        _erasure(ctx, manifest, req, private)  # completes (and shreds) itself
        return
    elif req.kind == "rectification":
        _rectify(ctx, manifest, req, private)
    else:
        _flag(session, manifest, req, private)
    if req.state == "failed":
        return
    _forward(session, manifest, req, private, routing.forwarded, ctx.environ)
    transition(session, req, "completed", actor="system", details=_summary(req))


def _summary(req: DataRequest) -> dict[str, Any]:
    result = req.result or {}
    return {k: result[k] for k in ("rows", "collections", "fields_changed") if k in result}


def _failure_of(exc: Exception) -> dict[str, Any]:
    """What is kept of an exception: its type, and a plan's reasons (they name no values; other
    errors' text may quote stored values, so it is not kept)."""
    if isinstance(exc, PlanError):
        return {"error": "PlanError", "message": exc.args[0], "problems": list(exc.problems)}
    return {"error": type(exc).__name__}


def _fail(
    session: Session,
    req: DataRequest,
    detail: Mapping[str, Any],
    manifest: Manifest | None = None,
) -> None:
    req.result = {**(req.result or {}), "failure": dict(detail)}
    transition(session, req, "failed", actor="system", details=dict(detail))
    if manifest is not None:
        _tell_failure(session, manifest, req, detail)


def _tell_failure(
    session: Session, manifest: Manifest, req: DataRequest, detail: Mapping[str, Any]
) -> None:
    """Alert the privacy team (and the DPO) with the reasons; tell the person it is delayed."""
    reasons = _reasons(detail)
    team = {"reference": req.reference, "request_kind": req.kind, "reasons": reasons}
    org = manifest.organization
    to = {"failed_team": org.contact.email, "failed_dpo": org.dpo.email if org.dpo else None}
    for name, address in to.items():
        if address:
            mail(
                session,
                manifest,
                req,
                name,
                address,
                team,
                kind="request_failed",
                sealed=False,
                lang=manifest.default_language,
            )
    person = {"reference": req.reference, "request_kind": req.kind, "deadline": current_due(req)}
    mail(session, manifest, req, "delayed", private_of(session, req).email, person)


def _reasons(detail: Mapping[str, Any]) -> list[str]:
    if detail.get("error") == "PlanError":
        return [str(detail["message"]), *(str(p) for p in detail.get("problems", ()))]
    if "left" in detail:
        return [f"{n} row(s) still found in {c} after erasure" for c, n in detail["left"].items()]
    if detail.get("error") == "unproven_identity":
        return ["identities nobody proved: " + ", ".join(detail.get("kinds", ()))]
    return [f"the job failed three times ({detail.get('error', 'error')})"]


# --- access and portability ----------------------------------------------------------------


def _access(ctx: JobContext, manifest: Manifest, req: DataRequest, private: Private) -> None:
    session = ctx.session
    engine = open_engine(ctx, manifest)
    try:
        _step(session, req, 1, "read", "running")
        result = engine.access(private.identity_map())
    finally:
        engine.close()
    rows = sum(len(c.rows) for c in result.collections)
    _step(session, req, 1, "read", "done", {"collections": len(result.collections), "rows": rows})
    now = utcnow()
    content = package.build(
        manifest,
        result,
        reference=req.reference,
        lang=req.language,
        jurisdiction=req.jurisdiction,
        created=now,
    )
    token = package.store(session, req, content, now)
    _step(session, req, 2, "package", "done", {"bytes": len(content)})
    req.result = {
        "rows": rows,
        "collections": {c.node: len(c.rows) for c in result.collections},
        "manual": list(result.manual),
    }
    public_url = store_of(session).settings.public_url
    mail(
        session,
        manifest,
        req,
        "completed",
        private.email,
        {
            "reference": req.reference,
            "request_kind": req.kind,
            "download_url": package.download_url(public_url, token),
            "download_expires": now + package.LINK_TTL,
        },
    )
    _step(session, req, 3, "notify", "done")


# --- erasure -------------------------------------------------------------------------------


def _seal_state(session: Session, req: DataRequest, state: ErasureState) -> str:
    vault = store_of(session).vault
    data = json.dumps(state.to_json(), separators=(",", ":")).encode()
    sealed = vault.encrypt_for(session, req.subject_id, data, _STATE_AAD + req.id.encode())
    return base64.b64encode(sealed).decode("ascii")


def _open_state(session: Session, req: DataRequest, text: str) -> ErasureState:
    vault = store_of(session).vault
    raw = vault.decrypt_for(
        session, req.subject_id, base64.b64decode(text), _STATE_AAD + req.id.encode()
    )
    return ErasureState.from_json(json.loads(raw))


def _erasure(ctx: JobContext, manifest: Manifest, req: DataRequest, private: Private) -> None:
    """Collect, erase collection by collection, verify; each step checkpointed with its state.

    A step's row, its audit event (counts only) and the checkpoint commit together, so each
    finished step is recorded exactly once. The state holds identities and row keys, so it is
    checkpointed sealed with the subject's key. A step repeated after a crash (done in the
    store, not yet checkpointed) finds nothing left to change: the engine masks only values
    still as collected and deletes only rows still there.
    """
    session = ctx.session
    engine = open_engine(ctx, manifest)
    try:
        plan = engine.erasure_plan()
        progress = ctx.progress or {}
        sealed = progress.get("state")
        state = (
            _open_state(session, req, sealed) if sealed else engine.start(private.identity_map())
        )
        for position, step in enumerate(plan.steps, start=1):
            if step.id in state.done:
                continue
            state = engine.run_step(step, state)
            detail = _step_detail(step.node, state)
            _step(session, req, position, step.id, "done", detail)
            event = {"step": step.id, **detail}
            audit.append(session, "system", "request.erasure_step", "request", req.id, event)
            ctx.checkpoint({"state": _seal_state(session, req, state), "step": step.id})
        report = engine.report(state)
    finally:
        engine.close()
    req.result = {"erasure": report.to_json(), "fields_changed": _changed(report)}
    if report.status != "completed":
        _fail(session, req, {"left": {c.collection: c.left_rows for c in report.left}}, manifest)
        return
    _finish_erasure(ctx, manifest, req, private, report, len(plan.steps) + 1)


def _step_detail(node: str | None, state: ErasureState) -> dict[str, Any]:
    if node is None:
        return {"status": state.status}
    return {"node": node, **state.outcomes.get(node, {})}


def _changed(report: ErasureReport) -> int:
    return sum(c.fields_changed for c in report.collections)


def _finish_erasure(
    ctx: JobContext,
    manifest: Manifest,
    req: DataRequest,
    private: Private,
    report: ErasureReport,
    position: int,
) -> None:
    """Completed: queue the confirmation in clear (the key is about to go), then shred.

    The referral mails to the person are queued before, also in clear, for the same reason.
    """
    session = ctx.session
    routing = route_request(manifest)
    _forward(session, manifest, req, private, routing.forwarded, ctx.environ, sealed=False)
    said = summarise(manifest, report, req.language)
    context: dict[str, Any] = {"reference": req.reference, "request_kind": req.kind}
    if said.erased:
        context["erased"] = said.erased
    if said.kept:
        context["kept"] = said.kept
    mail(session, manifest, req, "completed", private.email, context, sealed=False)
    transition(
        session,
        req,
        "completed",
        actor="system",
        details={
            "fields_changed": _changed(report),
            "collections": len(report.collections),
        },
    )
    session.execute(delete(RequestPackage).where(RequestPackage.subject_id == req.subject_id))
    store_of(session).vault.shred(
        session, req.subject_id, "system", f"erasure request {req.reference}"
    )
    store_of(session).compact_after_erasure(session)
    _step(session, req, position, "shred", "done")


# --- rectification, restriction, objection, opt-out, sensitive-data limit ------------------


def _rectify(ctx: JobContext, manifest: Manifest, req: DataRequest, private: Private) -> None:
    session = ctx.session
    engine = open_engine(ctx, manifest)
    try:
        report = engine.rectify(private.identity_map(), private.corrections)
    finally:
        engine.close()
    changed = sum(c.fields_changed for c in report.collections)
    req.result = {"rectification": report.to_json(), "fields_changed": changed}
    _step(session, req, 1, "rectify", "done", {"fields_changed": changed})
    mail(
        session,
        manifest,
        req,
        "completed",
        private.email,
        {
            "reference": req.reference,
            "request_kind": req.kind,
        },
    )


def _flag(session: Session, manifest: Manifest, req: DataRequest, private: Private) -> None:
    kind, purposes = flags.limit_for(req.kind, private.purposes)
    added = flags.record(session, req.subject_id, kind, purposes, req.id)
    audit.append(
        session,
        "system",
        "subject.flagged",
        "subject",
        req.subject_id,
        {
            "kind": req.kind,
            "purposes": sorted(purposes),
            "request": req.id,
        },
    )
    req.result = {"flags": sorted(purposes), "added": len(added)}
    _step(session, req, 1, "flag", "done", {"purposes": sorted(purposes)})
    mail(
        session,
        manifest,
        req,
        "completed",
        private.email,
        {
            "reference": req.reference,
            "request_kind": req.kind,
        },
    )


# --- processor systems (P-S14) ------------------------------------------------------------


def _forward(
    session: Session,
    manifest: Manifest,
    req: DataRequest,
    private: Private,
    systems: tuple[str, ...],
    environ: Mapping[str, str],
    *,
    sealed: bool = True,
) -> None:
    """Tell the person whom to ask, and each controlling customer found, the reference."""
    from pledge.requests import forwarding

    forwarded = []
    for key in systems:
        system = manifest.systems[key]
        controller = system.controller
        context: dict[str, Any] = {"reference": req.reference, "request_kind": req.kind}
        if controller is not None:
            context["controller"] = manifest.text(controller.name, req.language)
        mail(
            session,
            manifest,
            req,
            f"referred:{key}",
            private.email,
            context,
            kind="request_referred",
            sealed=sealed,
        )
        contacts = forwarding.resolver(manifest, key, private.identity_map(), environ)
        for n, contact in enumerate(contacts):
            mail(
                session,
                manifest,
                req,
                f"forwarded:{key}:{n}",
                contact,
                {
                    "reference": req.reference,
                    "request_kind": req.kind,
                    "system": manifest.text(system.name, req.language),
                    "received": req.received_at,
                },
                kind="request_forwarded",
                sealed=False,
            )
        forwarded.append({"system": key, "contacts_told": len(contacts)})
        audit.append(
            session,
            "system",
            "request.forwarded_to_controller",
            "request",
            req.id,
            {
                "system": key,
                "contacts_told": len(contacts),
            },
        )
    if forwarded:
        req.result = {**(req.result or {}), "forwarded": forwarded}


# --- purge ---------------------------------------------------------------------------------


@handler(PURGE_JOB)
def purge(ctx: JobContext) -> None:
    """Delete a request never verified; shred a subject it alone created."""
    session = ctx.session
    req = session.get(DataRequest, ctx.payload["request_id"], populate_existing=True)
    if req is None or req.state != "unverified":
        return
    purge_request(session, req, utcnow())


def purge_request(session: Session, req: DataRequest, now: datetime) -> None:
    subject_id, created, reference = req.subject_id, req.subject_created, req.reference
    audit.append(
        session,
        "system",
        "request.purged",
        "request",
        req.id,
        {
            "reference": reference,
            "received": req.received_at.isoformat(),
        },
    )
    session.delete(req)
    session.flush()
    others = session.execute(
        select(func.count()).select_from(DataRequest).where(DataRequest.subject_id == subject_id)
    ).scalar_one()
    if created and not others:
        store_of(session).vault.shred(
            session, subject_id, "system", f"unverified request {reference} purged"
        )


# --- SLA reminders -------------------------------------------------------------------------


@handler(reminders.REMIND_JOB)
def remind(ctx: JobContext) -> None:
    """Mail the privacy team about requests newly due soon or overdue (once each)."""
    if ctx.resources.manifest is None:
        log.debug("no SLA reminders: this worker has no manifest")
        return
    reminders.remind(ctx.session, ctx.manifest)


periodic(reminders.REMIND_JOB, reminders.REMIND_EVERY)
