"""The manifest in force: its status, and reloading it (kept when the new one has errors)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from pledge.api.auth import actor, guard
from pledge.api.problems import Problem
from pledge.api.schemas import FindingOut, ManifestStatus, ProblemDocument, ReloadResult
from pledge.api.service import reload_manifest
from pledge.api.state import state_of
from pledge.manifest.findings import Finding

router = APIRouter(prefix="/v1/manifest", tags=["manifest"])


def _findings(findings: tuple[Finding, ...]) -> list[FindingOut]:
    return [FindingOut.model_validate(f.as_dict()) for f in findings]


@router.get(
    "",
    response_model=ManifestStatus,
    summary="The manifest in force: digest, when loaded, last refused reload",
    **guard("manifest:read"),
)
def manifest_status(request: Request) -> ManifestStatus:
    holder = state_of(request).holder
    manifest = holder.manifest
    error = holder.last_error
    return ManifestStatus(
        path=str(holder.path),
        digest=manifest.digest,
        loaded_at=holder.loaded_at,
        languages=list(manifest.languages),
        notices=list(manifest.notices),
        last_reload_error=_findings(error.findings) if error is not None else None,
    )


@router.post(
    "/reload",
    response_model=ReloadResult,
    summary="Reload the manifest from disk if `pledge check` passes; else keep the old one",
    **guard(
        "manifest:reload",
        responses={
            422: {"model": ProblemDocument, "description": "The file has errors; nothing changed"}
        },
    ),
)
def reload(request: Request) -> ReloadResult:
    state = state_of(request)
    outcome = reload_manifest(state.store, state.holder, actor(request))
    findings = _findings(outcome.findings)
    if not outcome.ok:
        errors = sum(f.severity == "error" for f in outcome.findings)
        raise Problem(
            422,
            "Manifest has errors",
            f"The manifest on disk has {errors} error(s); the one in force "
            f"({outcome.digest[:12]}) stays. Fix them and reload again.",
            kind="manifest-invalid",
            findings=[f.model_dump() for f in findings],
        )
    return ReloadResult(ok=True, digest=outcome.digest, findings=findings)
